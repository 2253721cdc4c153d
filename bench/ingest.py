"""Time ``catalogue validate`` and ``catalogue publish`` on generated DDI-L 3.3 files.

    .venv/bin/python bench/ingest.py                        # 1,000, 10,000 and 100,000 variables
    .venv/bin/python bench/ingest.py --sizes 1000,10000
    .venv/bin/python bench/ingest.py --keep bench/out       # keep the generated files

For each size, one publication is written by streaming text to disk: every variable has
French and English labels, a question with French and English text, and its own code
list whose codes point at categories labelled in both languages. The file is checked
against the official XSD, then each command runs in its own subprocess (and its own
fresh data directory) under a small wrapper that reports its wall time and its peak
memory: the largest resident set of any process of the command's tree
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``) and, on Linux, the largest sum over the tree
sampled from /proc every 100 ms (``validate`` checks the XSD in a helper process while it
reads; ``publish`` also writes a large batch's rows and builds part of its search
documents in helper processes), and the CPU time of the whole tree: at 100,000
variables, what that CPU time takes at best on this machine's cores is printed beside
the 60 s target.

Next to them, the floor measured in the same run on the same bytes, in a subprocess of
its own: ``lxml.etree.parse`` plus ``XMLSchema.validate``. Targets: validate within 1.5x
of the floor; publish 100,000 variables in under 60 s with peak memory under 1 GB.
Figures on a shared machine are noisy; the script reports what it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCHEMAS = ROOT.parent / "shared" / "ddi-schemas"
_SCRIPT = Path(sys.executable).parent / "catalogue"
#: The ``catalogue`` console script of this environment (the module when not installed).
CATALOGUE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "catalogue.cli"]

NAMESPACES = (
    'xmlns:ddi="ddi:instance:3_3" xmlns:r="ddi:reusable:3_3" xmlns:g="ddi:group:3_3" '
    'xmlns:d="ddi:datacollection:3_3" xmlns:l="ddi:logicalproduct:3_3"'
)
#: Codes per code list, and how many variables share one set of categories.
CODES_PER_LIST = 3
VARIABLES_PER_CATEGORY_SET = 10
_TOPICS_FR = ("tabac", "alcool", "sommeil", "alimentation", "activité physique", "emploi")
_TOPICS_EN = ("tobacco", "alcohol", "sleep", "diet", "physical activity", "employment")


# -- the generated publication -------------------------------------------------------------


def _identity(agency: str, id_: str, version: str) -> str:
    return f"<r:Agency>{agency}</r:Agency><r:ID>{id_}</r:ID><r:Version>{version}</r:Version>"


def _reference(element: str, agency: str, id_: str, version: str, type_of_object: str) -> str:
    return (f"<{element}>{_identity(agency, id_, version)}"
            f"<r:TypeOfObject>{type_of_object}</r:TypeOfObject></{element}>")


def category_sets(variables: int) -> int:
    return max(1, variables // VARIABLES_PER_CATEGORY_SET)


def write_publication(path: Path, variables: int, *, agency: str = "fr.bench",
                      version: str = "1") -> int:
    """Write a schema-valid DDI-L 3.3 DDIInstance holding ``variables`` variables, each
    with its question and its code list; return the file size in bytes. Written by
    streaming text, so memory does not grow with ``variables``."""
    sets = category_sets(variables)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f"<ddi:DDIInstance {NAMESPACES}>\n")
        out.write(_identity(agency, f"bench-{variables}", version) + "\n")
        out.write("<r:Citation><r:Title>"
                  f'<r:String xml:lang="fr">Banc d\'essai : {variables} variables</r:String>'
                  f'<r:String xml:lang="en">Benchmark: {variables} variables</r:String>'
                  "</r:Title></r:Citation>\n")
        out.write(f"<g:ResourcePackage>{_identity(agency, 'rp', version)}\n")
        _scheme(out, "d:QuestionScheme", agency, "qs", version, variables,
                lambda n: _question(agency, version, n))
        _scheme(out, "l:CategoryScheme", agency, "cs", version, sets * CODES_PER_LIST,
                lambda n: _category(agency, version, n))
        _scheme(out, "l:CodeListScheme", agency, "cls", version, variables,
                lambda n: _code_list(agency, version, n, sets))
        _scheme(out, "l:VariableScheme", agency, "vs", version, variables,
                lambda n: _variable(agency, version, n))
        out.write("</g:ResourcePackage>\n</ddi:DDIInstance>\n")
    return path.stat().st_size


def _scheme(out: TextIO, element: str, agency: str, id_: str, version: str, count: int,
            write_one: Callable[[int], str]) -> None:
    out.write(f"<{element}>{_identity(agency, id_, version)}\n")
    for n in range(count):
        out.write(write_one(n))
    out.write(f"</{element}>\n")


def _question(agency: str, version: str, n: int) -> str:
    topic = n % len(_TOPICS_FR)
    return (
        f"<d:QuestionItem>{_identity(agency, f'q{n}', version)}"
        f"<d:QuestionItemName><r:String>Q{n}</r:String></d:QuestionItemName>"
        '<d:QuestionText audienceLanguage="fr"><d:LiteralText>'
        f'<d:Text xml:lang="fr">Question {n} : à quelle fréquence, au sujet du thème '
        f"« {_TOPICS_FR[topic]} », au cours des douze derniers mois ?</d:Text>"
        '</d:LiteralText></d:QuestionText><d:QuestionText audienceLanguage="en"><d:LiteralText>'
        f'<d:Text xml:lang="en">Question {n}: how often, about {_TOPICS_EN[topic]}, over '
        "the last twelve months?</d:Text></d:LiteralText></d:QuestionText>"
        f"<d:CodeDomain>{_reference('r:CodeListReference', agency, f'cl{n}', version, 'CodeList')}"
        "</d:CodeDomain></d:QuestionItem>\n"
    )


def _category(agency: str, version: str, n: int) -> str:
    return (
        f"<l:Category>{_identity(agency, f'cat{n}', version)}<r:Label>"
        f'<r:Content xml:lang="fr">Modalité {n % CODES_PER_LIST + 1} de l\'ensemble '
        f"{n // CODES_PER_LIST}</r:Content>"
        f'<r:Content xml:lang="en">Category {n % CODES_PER_LIST + 1} of set '
        f"{n // CODES_PER_LIST}</r:Content></r:Label></l:Category>\n"
    )


def _code_list(agency: str, version: str, n: int, sets: int) -> str:
    first = (n % sets) * CODES_PER_LIST
    codes = "".join(
        f"<l:Code>{_identity(agency, f'cl{n}-{k + 1}', version)}"
        f"{_reference('r:CategoryReference', agency, f'cat{first + k}', version, 'Category')}"
        f"<r:Value>{k + 1}</r:Value></l:Code>"
        for k in range(CODES_PER_LIST)
    )
    return (f"<l:CodeList>{_identity(agency, f'cl{n}', version)}"
            f"<l:CodeListName><r:String>CL{n}</r:String></l:CodeListName>{codes}"
            "</l:CodeList>\n")


def _variable(agency: str, version: str, n: int) -> str:
    topic = n % len(_TOPICS_FR)
    return (
        f"<l:Variable>{_identity(agency, f'v{n}', version)}"
        f"<l:VariableName><r:String>V{n}</r:String></l:VariableName><r:Label>"
        f'<r:Content xml:lang="fr">Variable {n} : fréquence ({_TOPICS_FR[topic]})</r:Content>'
        f'<r:Content xml:lang="en">Variable {n}: frequency ({_TOPICS_EN[topic]})</r:Content>'
        f"</r:Label>{_reference('r:QuestionReference', agency, f'q{n}', version, 'QuestionItem')}"
        "<l:VariableRepresentation><r:CodeRepresentation>"
        f"{_reference('r:CodeListReference', agency, f'cl{n}', version, 'CodeList')}"
        "</r:CodeRepresentation></l:VariableRepresentation></l:Variable>\n"
    )


# -- measuring -----------------------------------------------------------------------------

#: Runs a command, sampling the resident set of its process tree from /proc, and prints
#: {"seconds", "returncode", "maxrss_kb", "tree_kb", "cpu_seconds"} as JSON on its last
#: line. The CPU time (user and system) is that of every process of the tree that was
#: waited for, as the catalogue waits for its helpers.
_WRAPPER = r"""
import json, os, resource, subprocess, sys, tempfile, threading, time

def tree_rss_kb(root):
    children = {}
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    rss = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total

errors = tempfile.TemporaryFile()  # not a pipe: a long report must not block the command
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=errors)
peak = 0
done = threading.Event()

def sample():
    global peak
    while not done.is_set():
        peak = max(peak, tree_rss_kb(proc.pid))
        done.wait(0.1)  # a scan of /proc costs CPU: sample no faster

sampler = threading.Thread(target=sample)
sampler.start()
proc.wait()  # the time is taken when the command ends, not at the next sample
seconds = time.perf_counter() - start
done.set()
sampler.join()
errors.seek(0)
print(errors.read().decode("utf-8", "replace")[-2000:], file=sys.stderr)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "returncode": proc.returncode, "tree_kb": peak,
                  "maxrss_kb": usage.ru_maxrss,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime}))
"""

#: The floor: parse and validate the same bytes with lxml, nothing else.
_FLOOR = r"""
import sys
from lxml import etree
schema = etree.XMLSchema(etree.parse(sys.argv[1]))
doc = etree.parse(sys.argv[2], etree.XMLParser(resolve_entities=False, no_network=True,
                                               huge_tree=True))
sys.exit(0 if schema.validate(doc) else 1)
"""

#: Compiling the XSD alone, timed so that the floor can be counted without it too.
_COMPILE = r"""
import sys
from lxml import etree
etree.XMLSchema(etree.parse(sys.argv[1]))
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    returncode: int
    peak_kb: int
    #: CPU time of the whole process tree
    cpu_seconds: float

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def measure(command: Sequence[str], env: dict[str, str]) -> Run:
    """Run ``command`` in a wrapper subprocess; its time and the peak RSS of its tree."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], env=env,
                          capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"measuring {command} failed: {done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if result["returncode"] != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {result['returncode']}:\n"
                           f"{done.stderr[-2000:]}")
    return Run(result["seconds"], result["returncode"],
               max(result["maxrss_kb"], result["tree_kb"]), result["cpu_seconds"])


@dataclass(frozen=True)
class Row:
    variables: int
    size: int
    floor: Run
    compile_seconds: float
    validate: Run
    publish: Run

    def ratio(self) -> float:
        return self.validate.seconds / self.floor.seconds


def bench_size(variables: int, workdir: Path, schema_dir: Path, keep: Path | None) -> Row:
    path = workdir / f"ingest-{variables}.xml"
    size = write_publication(path, variables)
    env = dict(os.environ, CATALOGUE_DDI_SCHEMAS=str(schema_dir),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    instance = str(schema_dir / "3.3" / "instance.xsd")
    floor = measure([sys.executable, "-c", _FLOOR, instance, str(path)], env)  # also checks
    compiled = measure([sys.executable, "-c", _COMPILE, instance], env)
    env["CATALOGUE_DATA_DIR"] = str(workdir / f"validate-{variables}")
    validate = measure([*CATALOGUE, "validate", str(path)], env)
    env["CATALOGUE_DATA_DIR"] = str(workdir / f"publish-{variables}")
    publish = measure([*CATALOGUE, "publish", str(path)], env)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, keep / path.name)
    path.unlink()
    return Row(variables, size, floor, compiled.seconds, validate, publish)


def table(rows: Sequence[Row]) -> str:
    header = ("| variables | file MB | floor s | floor MB RSS | validate s | validate/floor "
              "| validate var/s | validate MB/s | validate MB RSS | publish s | publish var/s "
              "| publish MB/s | publish CPU s | publish MB RSS |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in rows:
        mb = r.size / 1e6
        lines.append(
            f"| {r.variables:,} | {mb:.1f} | {r.floor.seconds:.2f} | {r.floor.peak_mb:.0f} "
            f"| {r.validate.seconds:.2f} | {r.ratio():.2f} "
            f"| {r.variables / r.validate.seconds:,.0f} | {mb / r.validate.seconds:.1f} "
            f"| {r.validate.peak_mb:.0f} | {r.publish.seconds:.2f} "
            f"| {r.variables / r.publish.seconds:,.0f} | {mb / r.publish.seconds:.1f} "
            f"| {r.publish.cpu_seconds:.1f} | {r.publish.peak_mb:.0f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="comma-separated numbers of variables (default 1000,10000,100000)")
    parser.add_argument("--schemas", type=Path,
                        default=Path(os.environ.get("CATALOGUE_DDI_SCHEMAS") or DEFAULT_SCHEMAS),
                        help="directory holding the official XSDs in 3.3/")
    parser.add_argument("--keep", type=Path, help="copy the generated files here")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for variables in sizes:
            row = bench_size(variables, Path(tmp), args.schemas, args.keep)
            rows.append(row)
            print(f"{variables:,} variables: {row.size / 1e6:.1f} MB; floor "
                  f"{row.floor.seconds:.2f} s (XSD compile {row.compile_seconds:.2f} s), "
                  f"validate {row.validate.seconds:.2f} s ({row.ratio():.2f}x floor), "
                  f"publish {row.publish.seconds:.2f} s, peak {row.publish.peak_mb:.0f} MB",
                  file=sys.stderr, flush=True)
    print(table(rows))
    print()
    for r in rows:
        verdict = "ok" if r.ratio() <= 1.5 else "over target"
        print(f"validate/floor at {r.variables:,} variables: {r.ratio():.2f} "
              f"(target <= 1.5: {verdict})")
    big = [r for r in rows if r.variables >= 100_000]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for r in big:
        fast = "ok" if r.publish.seconds < 60 else "over target"
        small = "ok" if r.publish.peak_mb < 1024 else "over target"
        print(f"publish {r.variables:,} variables: {r.publish.seconds:.1f} s (target < 60 s: "
              f"{fast}), peak {r.publish.peak_mb:.0f} MB (target < 1024 MB: {small})")
        # what the cores could do at best with the same work: no process ever waiting
        print(f"  its {r.publish.cpu_seconds:.1f} s of CPU time take at least "
              f"{r.publish.cpu_seconds / (cores or 1):.1f} s on {cores} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
