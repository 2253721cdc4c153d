"""``python -m cohorts``: rebuild the bundled DDI-L files from their dictionaries.

Unchanged items keep their versions (each file is compared with its previous version);
the topics are rebuilt first because the cohorts reference their versions.
"""

from __future__ import annotations

import sys

from catalogue import cli
from cohorts import COHORTS, TOPICS_AGENCY, TOPICS_TABLE, TOPICS_XML


def main() -> int:
    steps = [["import-topics", str(TOPICS_TABLE), "--agency", TOPICS_AGENCY,
              "--out", str(TOPICS_XML)]]
    steps += [["import-table", str(c.dictionary), "--agency", c.agency, "--out", str(c.xml),
               "--topics", str(TOPICS_XML)] for c in COHORTS]
    for argv in steps:
        code = cli.main(argv)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
