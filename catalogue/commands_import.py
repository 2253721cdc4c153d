"""``catalogue import-table`` and ``catalogue import-topics``: data dictionaries to DDI-L 3.3.

Nothing is written unless the whole table is valid; the output replaces ``--out`` in one
rename, so a reader never sees half a file.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from pathlib import Path

from catalogue.dictionary import read_dictionary
from catalogue.dictionary_ddi import (
    Topic,
    TopicRef,
    dictionary_to_ddi,
    read_topic_refs,
    topics_to_ddi,
)
from catalogue.dictionary_table import Problems, read_table
from catalogue.errors import InvalidDictionary, UnusableInput
from catalogue.settings import Settings
from cohorts import TOPICS_XML

_AGENCY = re.compile(r"^[a-zA-Z0-9\-]{1,63}(\.[a-zA-Z0-9\-]{1,63})*$")
TOPIC_COLUMNS = ("id", "label_fr", "label_en", "description_fr", "description_en")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    table = subparsers.add_parser(
        "import-table", help="turn a data dictionary (.csv or .xlsx) into DDI-L 3.3",
        description="Read a data dictionary (one row per variable) and write a DDI-L 3.3 "
                    "DDIInstance. Unchanged items keep their versions; changed ones get the "
                    "next version, compared with --previous or the existing --out file, and "
                    "never one the catalogue (CATALOGUE_DATA_DIR) already published.")
    table.add_argument("dictionary", type=Path, metavar="DICT", help="the .csv or .xlsx table")
    table.add_argument("--agency", required=True, help="DDI agency, e.g. fr.constances")
    table.add_argument("--out", required=True, type=Path, metavar="FILE.xml",
                       help="where to write the DDI-L file")
    table.add_argument("--previous", type=Path, metavar="FILE.xml",
                       help="earlier output to take versions from (default: --out if it exists)")
    table.add_argument("--study", type=Path, metavar="FILE.csv",
                       help="study facts (field,value); default: the workbook's 'study' sheet "
                            "or DICT's NAME.study.csv")
    table.add_argument("--topics", type=Path, metavar="TOPICS.xml",
                       help="published topics that the concept column names (default: the "
                            "bundled cohorts/topics/topics.xml)")
    table.set_defaults(handler=import_table)

    topics = subparsers.add_parser(
        "import-topics", help="turn a topics table (.csv or .xlsx) into a DDI-L 3.3 "
                              "ConceptScheme",
        description="Read a topics table (id, label_fr, label_en, description_fr, "
                    "description_en) and write it as a DDI-L 3.3 ConceptScheme.")
    topics.add_argument("table", type=Path, metavar="TOPICS.csv")
    topics.add_argument("--agency", required=True, help="DDI agency, e.g. fr.cohortes")
    topics.add_argument("--out", required=True, type=Path, metavar="FILE.xml")
    topics.add_argument("--previous", type=Path, metavar="FILE.xml")
    topics.set_defaults(handler=import_topics)


def import_table(args: argparse.Namespace, settings: Settings) -> int:
    _check_usage(args.agency, args.dictionary, (".csv", ".xlsx"))
    if args.study is not None and not args.study.is_file():
        raise UnusableInput(f"--study {args.study}: no such file")
    topics = _topic_refs(args.topics)
    dictionary = read_dictionary(args.dictionary, study_path=args.study, topics=topics)
    previous = _previous(args.previous, args.out)
    xml = dictionary_to_ddi(dictionary, agency=args.agency, topics=topics, previous=previous,
                            published=_published_versions(settings, args.agency))
    _write(args.out, xml, previous)
    questions = len(dictionary.questions)
    print(f"{args.out}: {len(dictionary.rows)} variables in {len(dictionary.waves)} waves, "
          f"{questions} questions, {len(dictionary.code_lists)} code lists"
          f"{'; unchanged' if xml == previous else ''}")
    return 0


def import_topics(args: argparse.Namespace, settings: Settings) -> int:
    _check_usage(args.agency, args.table, (".csv", ".xlsx"))
    topics = read_topics_table(args.table)
    previous = _previous(args.previous, args.out)
    xml = topics_to_ddi(topics, agency=args.agency, previous=previous,
                        published=_published_versions(settings, args.agency))
    _write(args.out, xml, previous)
    print(f"{args.out}: {len(topics)} topics{'; unchanged' if xml == previous else ''}")
    return 0


def read_topics_table(path: Path) -> list[Topic]:
    """The topics table; InvalidDictionary lists every bad row."""
    problems = Problems(path.name)
    table = read_table(path, problems, TOPIC_COLUMNS, ("id", "label_fr", "label_en"))
    topics: list[Topic] = []
    seen: dict[str, int] = {}
    for line, cells in table.rows if table else ():
        values = dict(zip(table.header, cells, strict=True)) if table else {}
        topic_id = values.get("id", "")
        if not re.match(r"^[A-Za-z0-9_]+$", topic_id):
            problems.add(line, "id", f"topic id {topic_id!r} must be letters, digits or _")
        elif topic_id in seen:
            problems.add(line, "id", f"topic {topic_id} appears twice (first on line "
                         f"{seen[topic_id]})")
        seen.setdefault(topic_id, line)
        if not (values.get("label_fr") and values.get("label_en")):
            problems.add(line, "label_fr" if not values.get("label_fr") else "label_en",
                         "a topic needs both label_fr and label_en")
        topics.append(Topic(**{c: values.get(c, "") for c in TOPIC_COLUMNS}))
    if problems:
        raise InvalidDictionary(f"{path.name}: {len(problems)} problem(s); nothing was written",
                                problems.errors)
    return topics


def _check_usage(agency: str, path: Path, suffixes: tuple[str, ...]) -> None:
    if not _AGENCY.match(agency):
        raise UnusableInput(f"--agency {agency!r} is not a DDI agency; use a dotted name "
                            "such as fr.constances")
    if path.suffix.lower() not in suffixes:
        raise UnusableInput(f"{path}: expected a {' or '.join(suffixes)} file")
    if not path.is_file():
        raise UnusableInput(f"{path}: no such file")


def _topic_refs(path: Path | None) -> dict[str, TopicRef]:
    path = path or TOPICS_XML
    if not path.is_file():
        if path == TOPICS_XML:
            return {}
        raise UnusableInput(f"--topics {path}: no such file")
    return read_topic_refs(_read(path, "--topics"))


def _published_versions(settings: Settings, agency: str) -> dict[str, int]:
    """The highest version the catalogue published per ID of ``agency`` (none without a
    store): an item that left the dictionary and comes back changed gets a new version."""
    from catalogue.commands import existing_store  # noqa: PLC0415 - the store is heavy

    store = existing_store(settings)
    if store is None:
        return {}
    try:
        return store.published_versions(agency)
    finally:
        store.close()


def _previous(previous: Path | None, out: Path) -> bytes | None:
    if previous is not None:
        if not previous.is_file():
            raise UnusableInput(f"--previous {previous}: no such file")
        return _read(previous, "--previous")
    return _read(out, "--out") if out.is_file() else None


def _write(out: Path, xml: bytes, previous: bytes | None) -> None:
    """Write through a temporary file renamed into place; leave an identical file alone."""
    try:
        if out.is_file() and xml == previous and out.read_bytes() == xml:
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise UnusableInput(f"cannot write {out}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(xml)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UnusableInput(f"cannot write {out}: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnusableInput(f"{what} {path}: {exc.strerror}") from None
