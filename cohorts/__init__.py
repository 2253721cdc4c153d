"""The bundled cohorts: their data dictionaries and the DDI-L 3.3 published from them.

Each cohort folder holds ``<slug>-dictionary.csv`` (one row per variable, the file a cohort
team maintains), ``<slug>-dictionary.study.csv`` (cohort-level facts) and ``<slug>.xml``,
written by ``catalogue import-table``. ``topics/`` holds the shared topics, published on
their own under the agency ``fr.cohortes``. ``python -m cohorts`` rebuilds every file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOPICS_AGENCY = "fr.cohortes"
TOPICS_TABLE = HERE / "topics" / "topics.csv"
TOPICS_XML = HERE / "topics" / "topics.xml"


@dataclass(frozen=True, slots=True)
class BundledCohort:
    slug: str
    agency: str

    @property
    def folder(self) -> Path:
        return HERE / self.slug

    @property
    def dictionary(self) -> Path:
        return self.folder / f"{self.slug}-dictionary.csv"

    @property
    def study(self) -> Path:
        return self.folder / f"{self.slug}-dictionary.study.csv"

    @property
    def xml(self) -> Path:
        return self.folder / f"{self.slug}.xml"


COHORTS = (
    BundledCohort("constances", "fr.constances"),
    BundledCohort("gazel", "fr.gazel"),
    BundledCohort("elfe", "fr.elfe"),
    BundledCohort("epipage2", "fr.epipage2"),
)


def bundled_files() -> list[Path]:
    """The DDI-L files in publishing order: the topics first, since the cohorts' variables
    and questions reference them."""
    return [TOPICS_XML, *(cohort.xml for cohort in COHORTS)]
