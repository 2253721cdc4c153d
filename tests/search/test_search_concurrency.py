"""Several processes on one index: web workers reading while a publisher writes.

Every reader and writer here is a real process, as in production (uvicorn workers and
a ``catalogue publish``), talking to the test through pipes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.documents import SearchDocument
from search.engine import SearchEngine, open_engine
from search.errors import IndexLocked
from search.query import Filters, SearchQuery

ROOT = Path(__file__).resolve().parents[2]
PUBLICATION = 7
DOCUMENTS_PER_ROUND = 40

_COMMON = """
import json, sys, time
from pathlib import Path
from search.documents import SearchDocument
from search.engine import open_engine
from search.query import Filters, SearchQuery

def round_documents(publication, round_number, count, cohort):
    return [SearchDocument(
        urn=f"urn:ddi:fr.test:{cohort}-{i}:{round_number}", kind="variable",
        publication_id=publication, name=f"{cohort.upper()}_{i}", cohort=cohort,
        wave=f"round {round_number}", wave_urn=f"urn:ddi:fr.test:round:{round_number}",
        label=(("fr", f"Variable {i} du tour {round_number}"),
               ("en", f"Variable {i} of round {round_number}")))
        for i in range(count)]

def look(engine, cohort):
    results = engine.search(SearchQuery("variable", filters=Filters(cohort=(cohort,)),
                                        page_size=100, facets=("wave",)))
    waves = sorted({hit.document.wave for hit in results.hits})
    return {"total": results.total, "hits": len(results.hits), "waves": waves,
            "facet": results.counts("wave")}
"""

_READER = _COMMON + """
engine = open_engine(sys.argv[1], sys.argv[2])
print(json.dumps(look(engine, "flip")), flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    print(json.dumps(look(engine, "flip")), flush=True)
"""

_LOOPING_READER = _COMMON + """
engine = open_engine(sys.argv[1], sys.argv[2])
stop, expected = Path(sys.argv[3]), int(sys.argv[4])
searches, problems, seen = 0, [], set()
print("ready", flush=True)
while True:
    stopping = stop.exists()
    try:
        view = look(engine, "flip")
    except Exception as error:  # the test reports it, so catch everything
        problems.append(repr(error))
        continue
    searches += 1
    seen.update(view["waves"])
    whole = view["total"] in (0, expected) and view["hits"] == view["total"]
    if not whole or len(view["waves"]) > 1 or sum(view["facet"].values()) != view["total"]:
        problems.append(view)
    if stopping:
        break
print(json.dumps({"searches": searches, "problems": problems[:5], "seen": sorted(seen),
                  "last": view["waves"]}), flush=True)
"""

_WRITER = _COMMON + """
engine = open_engine(sys.argv[1], sys.argv[2], lock_timeout=60)
publication, cohort, rounds = int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
for round_number in range(1, rounds + 1):
    engine.replace_publication(publication,
                               round_documents(publication, round_number, 40, cohort))
print("done", flush=True)
"""

_LOCK_HOLDER = """
import sys
from pathlib import Path
from search.locking import WriteLock
with WriteLock(Path(sys.argv[1]), 5):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def round_documents(round_number: int, publication: int = PUBLICATION,
                    cohort: str = "flip") -> list[SearchDocument]:
    # The children run _COMMON; running the same text here keeps one definition of a round.
    namespace: dict[str, object] = {}
    exec(compile(_COMMON, "common", "exec"), namespace)
    make = namespace["round_documents"]
    return make(publication, round_number, DOCUMENTS_PER_ROUND, cohort)  # type: ignore[operator,no-any-return]


def start(script: str, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script),
                             *map(str, args)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        assert process.stderr is not None
        raise AssertionError(f"child process failed: {process.stderr.read()}")
    return line


def ask(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stdin is not None
    process.stdin.write("search\n")
    process.stdin.flush()
    return json.loads(read_line(process))  # type: ignore[no-any-return]


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_a_reader_sees_each_commit_on_its_next_search(
        empty_engine: SearchEngine, engine_name: str,
        children: list[subprocess.Popen[str]]) -> None:
    empty_engine.replace_publication(PUBLICATION, round_documents(1))
    reader = start(_READER, engine_name, empty_engine.path)
    children.append(reader)
    assert json.loads(read_line(reader))["waves"] == ["round 1"]
    empty_engine.replace_publication(PUBLICATION, round_documents(2))
    assert ask(reader) == {"total": DOCUMENTS_PER_ROUND, "hits": DOCUMENTS_PER_ROUND,
                           "waves": ["round 2"], "facet": {"urn:ddi:fr.test:round:2": 40}}
    empty_engine.delete_publication(PUBLICATION)
    assert ask(reader)["total"] == 0


def test_readers_never_see_half_a_publication(
        empty_engine: SearchEngine, engine_name: str, tmp_path: Path,
        children: list[subprocess.Popen[str]]) -> None:
    stop = tmp_path / "stop"
    readers = [start(_LOOPING_READER, engine_name, empty_engine.path, stop,
                     DOCUMENTS_PER_ROUND) for _ in range(2)]
    children.extend(readers)
    for reader in readers:
        assert read_line(reader).strip() == "ready"
    rounds = 12
    for round_number in range(1, rounds + 1):
        empty_engine.replace_publication(PUBLICATION, round_documents(round_number))
    stop.touch()
    for reader in readers:
        summary = json.loads(read_line(reader))
        assert summary["problems"] == []
        assert summary["searches"] > rounds
        assert summary["last"] == [f"round {rounds}"]
        assert len(summary["seen"]) > 1  # it did read during the writes


def test_a_second_writer_waits_then_gives_a_clear_error(
        empty_engine: SearchEngine, engine_name: str,
        children: list[subprocess.Popen[str]]) -> None:
    holder = start(_LOCK_HOLDER, empty_engine.path)
    children.append(holder)
    assert read_line(holder).strip() == "locked"
    with open_engine(engine_name, empty_engine.path, lock_timeout=0.3) as impatient:
        with pytest.raises(IndexLocked, match=r"is being written by another process "
                                              r"\(waited 0\.3 s\); try again"):
            impatient.replace_publication(PUBLICATION, round_documents(1))
        # Readers are not blocked by a writer.
        assert impatient.search(SearchQuery()).total == 0
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    with open_engine(engine_name, empty_engine.path, lock_timeout=10) as patient:
        patient.replace_publication(PUBLICATION, round_documents(1))
    assert empty_engine.search(SearchQuery()).total == DOCUMENTS_PER_ROUND


def test_two_writer_processes_do_not_corrupt_the_index(
        empty_engine: SearchEngine, engine_name: str,
        children: list[subprocess.Popen[str]]) -> None:
    rounds = 6
    writers = [start(_WRITER, engine_name, empty_engine.path, publication, cohort, rounds)
               for publication, cohort in ((11, "alpha"), (12, "beta"))]
    children.extend(writers)
    for writer in writers:
        assert read_line(writer).strip() == "done"
        assert writer.wait(timeout=60) == 0
    results = empty_engine.search(SearchQuery(page_size=100))
    assert results.total == 2 * DOCUMENTS_PER_ROUND
    assert results.counts("cohort") == {"alpha": DOCUMENTS_PER_ROUND,
                                        "beta": DOCUMENTS_PER_ROUND}
    assert {hit.document.wave for hit in results.hits} == {f"round {rounds}"}
    for cohort in ("alpha", "beta"):
        found = empty_engine.search(SearchQuery("variable", filters=Filters(cohort=(cohort,))))
        assert found.total == DOCUMENTS_PER_ROUND
