"""Drive ``catalogue serve`` with the four cohorts plus a large synthetic cohort.

    .venv/bin/python bench/web.py                          # 200,000 variables, 30 s, 50 conn.
    .venv/bin/python bench/web.py --variables 20000 --duration 10   # smaller, shorter
    .venv/bin/python bench/web.py --data bench/out/web     # keep and reuse the data dir

Steps: publish the bundled cohorts and a generated DDI-L 3.3 cohort (``catalogue
publish``, as a team would), reusing the data directory when it already holds them;
start ``catalogue serve --workers N``; then, from a separate process, keep C connections
busy for D seconds over a mix of pages (search, variable, question, cohort, wave, home; HTML
and JSON) with a small keep-alive HTTP/1.1 client on asyncio that asks as a browser does
(in French, accepting gzip, opening a new connection when a response says
``Connection: close``), on uvloop when it is installed: it shares the server's cores,
and prints its share of one.
Prints throughput, p50/p95/p99 latency and errors per kind of page, and overall, then the
baseline measured in the same run: the same connections on the home page for 5 s, served
from the page cache (the HTTP server, the middleware and a cache lookup: the best any
page can do). A static file is no floor: Starlette reads it in a thread pool, at a
quarter of that rate.

The synthetic cohort is shaped like a real one: a Group with W waves (StudyUnits with a
data collection, dated events and questionnaires), questions shared across waves (each
asked in every wave, so a variable has W-1 twins), code lists with a missing-value
category, universes, and the shared topics as concepts.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = str(Path(sys.executable).with_name("catalogue"))
AGENCY = "fr.synthetica"
TOPICS = ("tobacco", "alcohol", "diet", "physical_activity", "sleep", "mental_health",
          "employment", "socioeconomic_status", "cognition", "environment_housing", "anthropometry",
          "blood_pressure", "medication", "social_relations", "screens_leisure")
WORDS = [("tabac", "tobacco"), ("alcool", "alcohol"), ("sommeil", "sleep"),
         ("poids", "weight"), ("taille", "height"), ("revenu", "income"),
         ("emploi", "employment"), ("logement", "housing"), ("stress", "stress"),
         ("douleur", "pain"), ("fatigue", "fatigue"), ("sport", "sport"),
         ("marche", "walking"), ("fruits", "fruit"), ("légumes", "vegetables"),
         ("café", "coffee"), ("médicaments", "medicines"), ("asthme", "asthma"),
         ("diabète", "diabetes"), ("tension", "blood pressure"), ("vision", "eyesight"),
         ("audition", "hearing"), ("dents", "teeth"), ("bruit", "noise"),
         ("transport", "commuting"), ("enfants", "children"), ("loisirs", "leisure"),
         ("solitude", "loneliness"), ("travail de nuit", "night work"),
         ("écrans", "screens")]
FRAMES = [("Fréquence : {fr}", "Frequency: {en}"), ("Quantité de {fr}", "Amount of {en}"),
          ("{fr} au cours des 12 derniers mois", "{en} in the past 12 months"),
          ("Âge au début : {fr}", "Age at onset: {en}"), ("Gêne liée à : {fr}",
                                                            "Discomfort from {en}")]
NS = ('xmlns:ddi="ddi:instance:3_3" xmlns:r="ddi:reusable:3_3" xmlns:g="ddi:group:3_3" '
      'xmlns:s="ddi:studyunit:3_3" xmlns:d="ddi:datacollection:3_3" '
      'xmlns:l="ddi:logicalproduct:3_3" xmlns:c="ddi:conceptualcomponent:3_3"')
CODE_LISTS = 40
#: The baseline: a page served from the page cache (no store, no index, no template).
FLOOR_PATH, FLOOR_SECONDS = "/", 5.0
#: Latency is also printed for the requests started in each slice of the run.
SLICE_SECONDS = 3.0


# -- the synthetic cohort --------------------------------------------------------------------

def _id(id_: str) -> str:
    return f"<r:Agency>{AGENCY}</r:Agency><r:ID>{id_}</r:ID><r:Version>1</r:Version>"


def _ref(element: str, id_: str, type_: str, agency: str = AGENCY) -> str:
    return (f"<{element}><r:Agency>{agency}</r:Agency><r:ID>{id_}</r:ID><r:Version>1"
            f"</r:Version><r:TypeOfObject>{type_}</r:TypeOfObject></{element}>")


def _label(fr: str, en: str) -> str:
    return (f'<r:Label><r:Content xml:lang="fr">{escape(fr)}</r:Content>'
            f'<r:Content xml:lang="en">{escape(en)}</r:Content></r:Label>')


def question_texts(q: int) -> tuple[str, str]:
    fr_word, en_word = WORDS[q % len(WORDS)]
    fr_frame, en_frame = FRAMES[(q // len(WORDS)) % len(FRAMES)]
    return (fr_frame.format(fr=fr_word) + f" (item {q})", en_frame.format(en=en_word)
            + f" (item {q})")


def write_synthetic(path: Path, variables: int, waves: int, per_instrument: int = 500) -> None:
    """A cohort of ``variables`` variables: ``variables // waves`` questions, each asked in
    every wave, ``per_instrument`` questions per questionnaire."""
    questions = max(1, variables // waves)
    with path.open("w", encoding="utf-8") as out:
        out.write(f"<?xml version='1.0' encoding='UTF-8'?>\n<ddi:DDIInstance {NS}>"
                  f"{_id('synthetica-publication')}<g:Group>{_id('synthetica')}"
                  "<r:UserAttributePair><r:AttributeKey>catalogue:participants"
                  "</r:AttributeKey><r:AttributeValue>150000</r:AttributeValue>"
                  "</r:UserAttributePair><r:UserAttributePair><r:AttributeKey>catalogue:slug"
                  "</r:AttributeKey><r:AttributeValue>synthetica</r:AttributeValue>"
                  "</r:UserAttributePair><r:Citation><r:Title>"
                  '<r:String xml:lang="fr">Synthetica (cohorte synthétique)</r:String>'
                  '<r:String xml:lang="en">Synthetica (synthetic cohort)</r:String>'
                  "</r:Title></r:Citation><r:Abstract>"
                  '<r:Content xml:lang="en">A generated cohort for benchmarks.</r:Content>'
                  "</r:Abstract><r:RequiredResourcePackages>"
                  + _ref("r:ResourcePackageReference", "synthetica-resources",
                         "ResourcePackage") + "</r:RequiredResourcePackages>\n")
        for wave in range(1, waves + 1):
            _write_wave(out, wave, 2000 + wave, questions, per_instrument)
        out.write("</g:Group>\n<g:ResourcePackage>" + _id("synthetica-resources"))
        out.write(f"<c:UniverseScheme>{_id('syn-universes')}<c:Universe>{_id('u-ALL')}"
                  f"{_label('Tous les participants', 'All participants')}</c:Universe>"
                  "</c:UniverseScheme>\n")
        out.write(f"<d:QuestionScheme>{_id('syn-questions')}")
        for q in range(questions):
            fr, en = question_texts(q)
            domain = (f"<d:CodeDomain>{_ref('r:CodeListReference', f'cl-{q % CODE_LISTS}', 'CodeList')}"  # noqa: E501
                      "</d:CodeDomain>" if q % 3 else
                      "<d:NumericDomain><r:NumericTypeCode>Integer</r:NumericTypeCode>"
                      "</d:NumericDomain>")
            out.write(f"<d:QuestionItem>{_id(f'q-{q}')}<d:QuestionItemName><r:String>"
                      f"Q{q}</r:String></d:QuestionItemName>"
                      f'<d:QuestionText audienceLanguage="fr"><d:LiteralText><d:Text '
                      f'xml:lang="fr">{escape(fr)} ?</d:Text></d:LiteralText></d:QuestionText>'
                      f'<d:QuestionText audienceLanguage="en"><d:LiteralText><d:Text '
                      f'xml:lang="en">{escape(en)}?</d:Text></d:LiteralText></d:QuestionText>'
                      f"{domain}"
                      f"{_ref('r:ConceptReference', TOPICS[q % len(TOPICS)], 'Concept', 'fr.cohortes')}"  # noqa: E501
                      "</d:QuestionItem>\n")
        out.write("</d:QuestionScheme>\n")
        out.write(f"<l:CategoryScheme>{_id('syn-categories')}")
        for c in range(CODE_LISTS):
            for value in range(1, 5):
                out.write(f"<l:Category>{_id(f'cat-{c}-{value}')}"
                          f"{_label(f'Modalité {value}', f'Category {value}')}</l:Category>")
            out.write(f'<l:Category isMissing="true">{_id(f"cat-{c}-9")}'
                      f"{_label('Ne sait pas', 'Do not know')}</l:Category>\n")
        out.write("</l:CategoryScheme>\n")
        out.write(f"<l:CodeListScheme>{_id('syn-codelists')}")
        for c in range(CODE_LISTS):
            codes = "".join(f"<l:Code>{_id(f'code-{c}-{v}')}"
                            f"{_ref('r:CategoryReference', f'cat-{c}-{v}', 'Category')}"
                            f"<r:Value>{v}</r:Value></l:Code>" for v in (1, 2, 3, 4, 9))
            out.write(f"<l:CodeList>{_id(f'cl-{c}')}{codes}</l:CodeList>\n")
        out.write("</l:CodeListScheme></g:ResourcePackage></ddi:DDIInstance>\n")


def _write_wave(out: TextIO, wave: int, year: int, questions: int, per_instrument: int) -> None:
    modules = range(0, questions, per_instrument)
    out.write(f"<s:StudyUnit>{_id(f'su-{wave}')}<r:Citation><r:Title>"
              f'<r:String xml:lang="fr">Vague {wave} ({year})</r:String>'
              f'<r:String xml:lang="en">Wave {wave} ({year})</r:String></r:Title></r:Citation>'
              f"<d:DataCollection>{_id(f'dc-{wave}')}<d:CollectionEvent>{_id(f'ce-{wave}')}"
              f"<d:DataCollectionDate><r:StartDate>{year}</r:StartDate><r:EndDate>{year}"
              f"</r:EndDate></d:DataCollectionDate><d:ModeOfCollection>{_id(f'mode-{wave}')}"
              "<d:TypeOfModeOfCollection>web</d:TypeOfModeOfCollection><r:Description>"
              '<r:Content xml:lang="fr">Questionnaire en ligne</r:Content>'
              '<r:Content xml:lang="en">Web questionnaire</r:Content></r:Description>'
              "</d:ModeOfCollection>"
              + "".join(_ref("d:InstrumentReference", f"inst-{wave}-{m}", "Instrument")
                        for m in modules)
              + f"</d:CollectionEvent><d:ControlConstructScheme>{_id(f'ccs-{wave}')}")
    for m in modules:
        refs = "".join(_ref("d:ControlConstructReference", f"qc-{wave}-{q}",
                            "QuestionConstruct")
                       for q in range(m, min(m + per_instrument, questions)))
        out.write(f"<d:Sequence>{_id(f'seq-{wave}-{m}')}{refs}</d:Sequence>\n")
    for q in range(questions):
        out.write(f"<d:QuestionConstruct>{_id(f'qc-{wave}-{q}')}"
                  f"{_ref('r:QuestionReference', f'q-{q}', 'QuestionItem')}"
                  "</d:QuestionConstruct>")
    out.write(f"</d:ControlConstructScheme><d:InstrumentScheme>{_id(f'is-{wave}')}")
    for m in modules:
        out.write(f"<d:Instrument>{_id(f'inst-{wave}-{m}')}<d:InstrumentName><r:String>"
                  f"M{m // per_instrument + 1}</r:String></d:InstrumentName>"
                  f"{_label(f'Module {m // per_instrument + 1}', f'Module {m // per_instrument + 1}')}"  # noqa: E501
                  f"{_ref('d:ControlConstructReference', f'seq-{wave}-{m}', 'Sequence')}"
                  "</d:Instrument>")
    out.write(f"</d:InstrumentScheme></d:DataCollection><l:LogicalProduct>{_id(f'lp-{wave}')}"
              f"<l:VariableScheme>{_id(f'vs-{wave}')}\n")
    for q in range(questions):
        fr, en = question_texts(q)
        access = "casd" if q % 10 == 0 else "open"
        representation = (
            f"<r:CodeRepresentation>{_ref('r:CodeListReference', f'cl-{q % CODE_LISTS}', 'CodeList')}"  # noqa: E501
            "</r:CodeRepresentation>" if q % 3 else
            '<r:NumericRepresentation missingValue="999"><r:NumericTypeCode>Integer'
            "</r:NumericTypeCode></r:NumericRepresentation>")
        out.write(f"<l:Variable>{_id(f'v-{wave}-{q}')}<r:UserAttributePair><r:AttributeKey>"
                  f"catalogue:access</r:AttributeKey><r:AttributeValue>{access}"
                  "</r:AttributeValue></r:UserAttributePair><l:VariableName><r:String>"
                  f"V{q}_W{wave}</r:String></l:VariableName>{_label(fr, en)}"
                  f"{_ref('r:UniverseReference', 'u-ALL', 'Universe')}"
                  f"{_ref('r:QuestionReference', f'q-{q}', 'QuestionItem')}"
                  f"<l:VariableRepresentation>{representation}</l:VariableRepresentation>"
                  "</l:Variable>\n")
    out.write("</l:VariableScheme></l:LogicalProduct></s:StudyUnit>\n")


# -- preparing and serving --------------------------------------------------------------------

def environment(data: Path, schemas: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOGUE_")}
    env.update(CATALOGUE_DATA_DIR=str(data), CATALOGUE_DDI_SCHEMAS=str(schemas),
               CATALOGUE_LOG_LEVEL="WARNING")
    return env


def prepare(data: Path, schemas: Path, variables: int, waves: int) -> None:
    marker = data / f"bench-{variables}-{waves}.done"
    if marker.exists():
        print(f"reusing {data} ({variables:,} synthetic variables)")
        return
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    env = environment(data, schemas)
    started = time.monotonic()
    subprocess.run([CATALOGUE, "publish", "--bundled"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    path = data / "synthetica.xml"
    write_synthetic(path, variables, waves)
    print(f"generated {path.stat().st_size / 1e6:.0f} MB of DDI-L; publishing...", flush=True)
    subprocess.run([CATALOGUE, "publish", str(path)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    path.unlink()
    marker.touch()
    print(f"published in {time.monotonic() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def worker_health(port: int, workers: int, process: subprocess.Popen[bytes],
                  timeout: float = 900) -> dict[int, dict[str, object]]:
    """``/healthz`` of every worker, by pid (a new connection per try spreads the tries
    over the workers). Each worker opens the store and builds the structures in its
    lifespan: this also waits until every one is ready."""
    deadline = time.monotonic() + timeout
    found: dict[int, dict[str, object]] = {}
    while time.monotonic() < deadline and len(found) < workers:
        if process.poll() is not None:
            raise SystemExit("catalogue serve stopped before it was ready")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close"
                             b"\r\n\r\n")
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            if answer.startswith(b"HTTP/1.1 200"):
                health = json.loads(answer.split(b"\r\n\r\n", 1)[1])
                found[int(health["pid"])] = health
                continue
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    if len(found) < workers:
        raise SystemExit("catalogue serve was not ready in time")
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine so far, from /proc/stat (Linux; else 0s).
    Stolen time is what the hypervisor gave to other guests: a run that lost some to it
    is slower for reasons outside the catalogue."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


# -- the load ---------------------------------------------------------------------------------

def url_mix(variables: int, waves: int, uniform: bool, seed: int = 7
            ) -> Iterator[tuple[str, str]]:
    """(kind, path) forever: what a crowd of researchers would ask for.

    Questions are drawn with Zipf-like popularity (the k-th most asked-for question
    weighs 1/k), as on a catalogue whose variables are cited and linked unevenly; with
    ``uniform``, every variable is as likely (a crawler's pattern: the worst case for
    the caches)."""
    rng = random.Random(seed)
    questions = max(1, variables // waves)
    weights = [1.0 / (k + 1) for k in range(questions)]
    cumulative = list(itertools.accumulate(weights))

    def pick_question() -> int:
        if uniform:
            return rng.randrange(questions)
        return bisect.bisect(cumulative, rng.random() * cumulative[-1])

    bundled = ["urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93",
               "urn:ddi:fr.constances:var-INC-IMC_INC",
               "urn:ddi:fr.elfe:var-MAT-MAT_AGE_MERE_MAT"]
    cohorts = ["constances", "gazel", "elfe", "epipage2", "synthetica"]
    terms = [w for pair in WORDS for w in pair] + ["tabac", "tobacco", "sommeil", "imc"]
    while True:
        roll = rng.random()
        q, wave = min(pick_question(), questions - 1), rng.randint(1, waves)
        variable = (f"urn:ddi:{AGENCY}:v-{wave}-{q}" if rng.random() < 0.8
                    else rng.choice(bundled))
        term = quote(rng.choice(terms))
        if roll < 0.20:
            facet = f"&cohort={rng.choice(cohorts)}" if rng.random() < 0.5 else ""
            yield "search", f"/search?q={term}{facet}"
        elif roll < 0.30:
            yield "search.json", f"/search.json?q={term}"
        elif roll < 0.55:
            yield "variable", f"/variables/{variable}"
        elif roll < 0.70:
            yield "variable.json", f"/variables/{variable}.json"
        elif roll < 0.78:
            yield "question", f"/questions/urn:ddi:{AGENCY}:q-{q}"
        elif roll < 0.86:
            yield "cohort", f"/cohorts/{rng.choice(cohorts)}"
        elif roll < 0.90:
            yield "cohort.json", f"/cohorts/{rng.choice(cohorts)}.json"
        elif roll < 0.95:
            yield "wave", f"/waves/urn:ddi:{AGENCY}:su-{wave}"
        else:
            yield "home", "/"


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   path: str) -> tuple[int, bool]:
    """The response's status, and whether it asks to close the connection."""
    # As a browser asks: in French, accepting gzip.
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept-Language: fr\r\n"
                 "Accept-Encoding: gzip\r\n\r\n".encode("ascii"))
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    close = False
    for line in head.split(b"\r\n"):
        lowered = line.lower()
        if lowered[:15] == b"content-length:":
            length = int(line[15:])
        elif lowered[:11] == b"connection:":
            close = b"close" in lowered
    if length:
        await reader.readexactly(length)
    return status, close


async def _worker(port: int, urls: Iterator[tuple[str, str]], until: float,
                  samples: dict[str, list[float]], errors: dict[str, int],
                  timeline: list[tuple[float, float]] | None = None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.monotonic() < until:
        kind, path = next(urls)
        started = time.perf_counter()
        try:
            status, close = await _request(reader, writer, path)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors[kind] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            continue
        if close:  # "Connection: close": reconnect, as a browser does
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        elapsed = time.perf_counter() - started
        if status != 200:
            errors[kind] += 1
        samples[kind].append(elapsed)
        if timeline is not None:
            timeline.append((started, elapsed))
    writer.close()


def _processes_cpu(pids: list[int]) -> float:
    """CPU seconds (user and system) the processes ``pids`` took so far (Linux; else 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return total / os.sysconf("SC_CLK_TCK")


async def drive(port: int, connections: int, duration: float, variables: int,
                waves: int, uniform: bool, workers: list[int]) -> dict[str, object]:
    urls = url_mix(variables, waves, uniform)
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    # Warm up each worker's caches of the structure (not measured).
    warm_until = time.monotonic() + min(5.0, duration / 3)
    await asyncio.gather(*(_worker(port, urls, warm_until, defaultdict(list),
                                   defaultdict(int)) for _ in range(4)))
    started, cpu_started = time.monotonic(), time.process_time()
    workers_started = _processes_cpu(workers)
    origin = time.perf_counter()  # the clock of the timeline
    timeline: list[tuple[float, float]] = []
    await asyncio.gather(*(_worker(port, urls, started + duration, samples, errors,
                                   timeline) for _ in range(connections)))
    elapsed = time.monotonic() - started
    driver_cpu = time.process_time() - cpu_started
    workers_cpu = _processes_cpu(workers) - workers_started
    # The baseline, same server, same connections: a cached page, what the HTTP server and
    # the middleware cost with no catalogue work at all.
    floor: dict[str, list[float]] = defaultdict(list)
    floor_errors: dict[str, int] = defaultdict(int)
    cached = itertools.repeat(("floor", FLOOR_PATH))
    floor_started = time.monotonic()
    await asyncio.gather(*(_worker(port, cached, floor_started + FLOOR_SECONDS, floor,
                                   floor_errors) for _ in range(connections)))
    return {"elapsed": elapsed, "driver_cpu": driver_cpu, "workers_cpu": workers_cpu,
            "samples": dict(samples),
            "slices": _slices(timeline, origin),
            "errors": dict(errors),
            "floor": {"elapsed": time.monotonic() - floor_started, "samples": floor["floor"],
                      "errors": floor_errors["floor"]}}


def _slices(timeline: list[tuple[float, float]], origin: float) -> list[list[float]]:
    """p50 and p95 of the requests started in each slice of :data:`SLICE_SECONDS`: the
    first slices show the caches warming up, a bad slice a stall."""
    by_slice: dict[int, list[float]] = defaultdict(list)
    for started, elapsed in timeline:
        by_slice[int((started - origin) // SLICE_SECONDS)].append(elapsed)
    return [[statistics.median(v), _pct(sorted(v), 95)] for _, v in sorted(by_slice.items())]


def report(result: dict[str, object], connections: int) -> None:
    elapsed = float(result["elapsed"])  # type: ignore[arg-type]
    samples: dict[str, list[float]] = result["samples"]  # type: ignore[assignment]
    errors: dict[str, int] = result["errors"]  # type: ignore[assignment]
    print(f"\n{connections} connections for {elapsed:.1f} s")
    print(f"{'kind':<14}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'errors':>8}")
    everything: list[float] = []
    for kind in sorted(samples):
        values = sorted(samples[kind])
        everything.extend(values)
        _row(kind, values, elapsed, errors.get(kind, 0))
    _row("all", sorted(everything), elapsed, sum(errors.values()))
    slices: list[list[float]] = result["slices"]  # type: ignore[assignment]
    print(f"p50/p95 ms by {SLICE_SECONDS:.0f} s slice: " + "  ".join(
        f"{p50 * 1000:.0f}/{p95 * 1000:.0f}" for p50, p95 in slices))
    print(f"the load generator took {float(result['driver_cpu']) / elapsed:.0%} of a core "  # type: ignore[arg-type]
          "during the mix")
    workers_cpu = float(result["workers_cpu"])  # type: ignore[arg-type]
    if workers_cpu:
        print(f"the workers took {workers_cpu / elapsed:.2f} cores, "
              f"{workers_cpu * 1000 / max(1, len(everything)):.2f} ms of CPU per request "
              "of the mix")
    floor: dict[str, Any] = result["floor"]  # type: ignore[assignment]
    print(f"baseline: {FLOOR_PATH} alone, {FLOOR_SECONDS:.0f} s, same connections:")
    _row("floor", sorted(floor["samples"]), float(floor["elapsed"]), int(floor["errors"]))
    pages = sorted(v for k, vs in samples.items() if not k.endswith(".json") for v in vs)
    json_ = sorted(v for k, vs in samples.items() if k.endswith(".json") for v in vs)
    print(f"\npages: p95 {_pct(pages, 95) * 1000:.0f} ms (target < 150); "
          f"JSON: p95 {_pct(json_, 95) * 1000:.0f} ms (target < 100); "
          f"errors: {sum(errors.values())} (target 0)")


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


def _row(kind: str, values: list[float], elapsed: float, errors: int) -> None:
    if not values:
        print(f"{kind:<14}{0:>9}")
        return
    print(f"{kind:<14}{len(values):>9}{len(values) / elapsed:>9.1f}"
          f"{statistics.median(values) * 1000:>9.1f}{_pct(values, 95) * 1000:>9.1f}"
          f"{_pct(values, 99) * 1000:>9.1f}{errors:>8}")


def _run(main: Coroutine[Any, Any, dict[str, object]]) -> dict[str, object]:
    """Run the load on uvloop (installed with uvicorn's standard extras) when it is there:
    the load generator shares the server's cores, and asyncio's own loop takes about
    twice its CPU for the same requests."""
    try:
        import uvloop  # noqa: PLC0415 - optional
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variables", type=int, default=200_000)
    parser.add_argument("--waves", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "out" / "web-data")
    parser.add_argument("--schemas", type=Path, default=Path(os.environ.get(
        "CATALOGUE_DDI_SCHEMAS", ROOT.parent / "shared" / "ddi-schemas")))
    parser.add_argument("--uniform", action="store_true",
                        help="every variable as likely (default: Zipf-like popularity)")
    parser.add_argument("--drive", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--worker-pids", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:  # the load generator's own process
        result = _run(drive(args.drive, args.connections, args.duration,
                            args.variables, args.waves, args.uniform,
                            [int(p) for p in args.worker_pids.split(",") if p]))
        print(json.dumps(result))
        return
    prepare(args.data, args.schemas, args.variables, args.waves)
    port = free_port()
    server = subprocess.Popen(
        [CATALOGUE, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=environment(args.data, args.schemas))
    try:
        started = time.monotonic()
        pids = sorted(worker_health(port, args.workers, server))
        print(f"serving with {args.workers} workers (ready in "
              f"{time.monotonic() - started:.1f} s); driving from another process...",
              flush=True)
        ticks_before = _cpu_ticks()
        driver = subprocess.run(
            [sys.executable, __file__, "--drive", str(port), "--connections",
             str(args.connections), "--duration", str(args.duration), "--variables",
             str(args.variables), "--waves", str(args.waves),
             "--worker-pids", ",".join(map(str, pids))]
            + (["--uniform"] if args.uniform else []),
            check=True, capture_output=True, text=True)
        print("URNs drawn " + ("uniformly" if args.uniform else "with Zipf-like popularity"))
        ticks = [after - before for after, before in zip(_cpu_ticks(), ticks_before,
                                                          strict=True)]
        result = json.loads(driver.stdout)
        report(result, args.connections)
        print(f"CPU time stolen by the host during the run: {ticks[1] / max(1, ticks[0]):.1%}")
        healths = worker_health(port, args.workers, server)
        caches = [health["page_cache"] for health in healths.values()]
        floor_requests = len(result["floor"]["samples"])
        hits = sum(c["hits"] for c in caches) - floor_requests  # the baseline's are hits
        asked = sum(c["hits"] + c["misses"] for c in caches) - floor_requests
        print(f"page cache: {hits / max(1, asked):.0%} of the mix's {asked} anonymous requests "
              f"(and the warm-up's) answered from it, "
              f"{sum(c['shared_hits'] for c in caches)} of them rendered by another worker")
        for pid, health in sorted(healths.items()):
            cache = health["page_cache"]
            assert isinstance(cache, dict)
            print(f"worker {pid}: {_rss_mb(pid):.0f} MB resident, {cache['entries']} pages "
                  f"cached ({cache['bytes'] / 2**20:.0f} MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
