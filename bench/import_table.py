"""Time ``catalogue import-table`` on a generated 10,000-row dictionary.

    .venv/bin/python bench/import_table.py [--rows 10000] [--validate]

Writes the dictionary and its DDI-L under bench/out/ and prints the figures: a first import
(no previous file), an unchanged re-import (every version compared with the previous output)
and a re-import after changing one row. Each step is timed twice: the command as a user
runs it (a new process, start-up and the atomic write included: the figure the target is
about), then the same work in this process, split into reading and checking the table and
building the DDI-L. The target is under 10 s for 10,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from catalogue.dictionary import read_dictionary  # noqa: E402
from catalogue.dictionary_ddi import Topic, dictionary_to_ddi, read_topic_refs, topics_to_ddi  # noqa: E402, E501
from catalogue.dictionary_table import COLUMNS  # noqa: E402

TOPICS = ("tobacco", "alcohol", "diet", "physical_activity", "sleep", "mental_health",
          "cognition", "chronic_disease", "care_use", "employment")
CODE_LISTS = {
    f"CL{n:02d}": "; ".join(f"{c}=Modalité {c} de la liste {n}|Category {c} of list {n}"
                            for c in range(1, 3 + n % 6)) + "; 9=Ne sait pas|Don't know"
    for n in range(40)
}


def generate(path: Path, rows: int) -> None:
    """Waves of 1,000 variables; most questions are asked again in every wave."""
    waves = max(1, rows // 1000)
    per_wave = rows // waves
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for w in range(waves):
            for n in range(per_wave):
                repeated = n < per_wave * 8 // 10
                question = f"Q{n:04d}" if repeated else f"Q{w:02d}_{n:04d}"
                kind = ("code", "integer", "decimal", "text", "date")[n % 5]
                code_list = f"CL{n % 40:02d}" if kind == "code" else ""
                row = {
                    "wave": f"V{w}", "wave_label_fr": f"Vague {w}",
                    "wave_label_en": f"Wave {w}", "wave_start": f"{2000 + w}",
                    "wave_mode": "self-administered", "instrument": f"Q{n // 100}",
                    "instrument_label_fr": f"Module {n // 100}",
                    "instrument_label_en": f"Module {n // 100}", "question_id": question,
                    "question_text_fr": f"Question numéro {n} : à quelle fréquence ?",
                    "question_text_en": f"Question number {n}: how often?",
                    "variable": f"{question}_V{w}", "label_fr": f"Variable {n} de la vague {w}",
                    "label_en": f"Variable {n} of wave {w}", "response_type": kind,
                    "code_list": code_list, "categories": CODE_LISTS.get(code_list, ""),
                    "missing_codes": "9" if kind == "code" else "",
                    "unit": "kg" if kind == "decimal" else "",
                    "concept": TOPICS[n % len(TOPICS)], "universe": "ALL",
                    "universe_label_fr": "Tous", "universe_label_en": "Everyone",
                    "source": "snds" if n % 10 == 0 else "questionnaire",
                    "access": "casd" if n % 10 == 0 else "open",
                }
                writer.writerow([row.get(c, "") for c in COLUMNS])


def command_once(table: Path, out: Path, topics_xml: Path) -> float:
    """Wall-clock seconds of ``catalogue import-table`` in a new process (no store)."""
    env = {**os.environ, "CATALOGUE_DATA_DIR": tempfile.mkdtemp(prefix="bench-import-")}
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("catalogue")), "import-table",
                    str(table), "--agency", "fr.bench", "--out", str(out), "--topics",
                    str(topics_xml)], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_once(table: Path, out: Path, topics_xml: Path) -> tuple[float, float, float, int]:
    """(read + check, build DDI, total) seconds and the number of variables."""
    start = time.perf_counter()
    topics = read_topic_refs(topics_xml.read_bytes())
    dictionary = read_dictionary(table, topics=topics)
    checked = time.perf_counter()
    previous = out.read_bytes() if out.exists() else None
    xml = dictionary_to_ddi(dictionary, agency="fr.bench", topics=topics, previous=previous)
    built = time.perf_counter()
    out.write_bytes(xml)
    done = time.perf_counter()
    return checked - start, built - checked, done - start, len(dictionary.rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--validate", action="store_true",
                        help="also validate the output against the official 3.3 XSD")
    args = parser.parse_args()
    folder = ROOT / "bench" / "out"
    folder.mkdir(parents=True, exist_ok=True)
    table, out, topics_xml = (folder / "dictionary.csv", folder / "dictionary.xml",
                              folder / "topics.xml")
    out_command = folder / "dictionary-command.xml"
    out_command.unlink(missing_ok=True)
    topics_xml.write_bytes(topics_to_ddi([Topic(t, t, t) for t in TOPICS],
                                         agency="fr.cohortes"))
    generate(table, args.rows)
    out.unlink(missing_ok=True)
    print(f"dictionary: {args.rows} rows, {table.stat().st_size / 1e6:.1f} MB")
    for step in ("first import", "unchanged re-import", "one row changed"):
        if step == "one row changed":
            text = table.read_text(encoding="utf-8").replace("Variable 7 de la vague 3,",
                                                             "Variable 7 (révisée) de la vague 3,")
            table.write_text(text, encoding="utf-8")
        before = out.read_bytes() if out.exists() else b""
        command = command_once(table, out_command, topics_xml)
        read, build, total, count = import_once(table, out, topics_xml)
        same = " (output unchanged)" if out.read_bytes() == before else ""
        print(f"{step:>20}: command {command:5.2f} s; in process {total:5.2f} s (read and "
              f"check {read:.2f} s, DDI {build:.2f} s)  {count} variables, "
              f"{out.stat().st_size / 1e6:.1f} MB{same}")
    if args.validate:
        from lxml import etree

        start = time.perf_counter()
        schema = etree.XMLSchema(etree.parse(str(ROOT.parent / "shared" / "ddi-schemas" /
                                                 "3.3" / "instance.xsd")))
        valid = schema.validate(etree.parse(str(out)))
        print(f"{'XSD validation':>20}: {time.perf_counter() - start:5.2f} s  "
              f"{'valid' if valid else schema.error_log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
