"""``catalogue serve --workers 2`` in real processes: a publication made by ``catalogue
publish`` while they run is visible to every worker within a second."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import Published
from support import Sample

CATALOGUE = str(Path(sys.executable).with_name("catalogue"))
VISIBLE_WITHIN = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(data_dir: Path, schema_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOGUE_")}
    env.update(CATALOGUE_DATA_DIR=str(data_dir), CATALOGUE_DDI_SCHEMAS=str(schema_dir),
               CATALOGUE_LOG_LEVEL="WARNING")
    return env


@pytest.fixture
def server(published: Published, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path / "data"
    shutil.copytree(published.data_dir, data)
    env = environment(data, published.schema_dir)
    port = free_port()
    process = subprocess.Popen([CATALOGUE, "serve", "--port", str(port), "--workers", "2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        pids = _wait_for_workers(base, process, 2)
        assert len(pids) == 2
        yield base, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _health(base: str) -> dict[str, object] | None:
    try:  # a new connection each time, so that the kernel spreads them over the workers
        with httpx.Client(timeout=5) as client:
            response = client.get(f"{base}/healthz")
        return response.json() if response.status_code == 200 else None
    except httpx.HTTPError:
        return None


def _status(url: str) -> int:
    with httpx.Client(timeout=10) as client:
        response = client.get(url)
    if url.endswith("cohort=late") and response.status_code == 200:
        return 200 if response.json()["total"] > 0 else 0
    return response.status_code


def _wait_for_workers(base: str, process: subprocess.Popen[bytes], count: int) -> set[int]:
    deadline = time.monotonic() + 90
    pids: set[int] = set()
    while time.monotonic() < deadline and len(pids) < count:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"catalogue serve stopped: {output[-2000:]}")
        health = _health(base)
        if health is not None:
            pids.add(int(str(health["pid"])))
        else:
            time.sleep(0.2)
    return pids


@pytest.mark.slow
def test_publication_is_visible_to_every_worker_within_a_second(
        server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    base, env = server
    before = _health(base)
    assert before is not None and "late" not in before["cohorts"]
    late = Sample(agency="fr.late", slug="late", title={"fr": "Cohorte tardive",
                                                       "en": "Late cohort"})
    path = late.write(tmp_path / "late.xml")
    done = subprocess.run([CATALOGUE, "publish", str(path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    published_at = time.monotonic()
    # Just under a second later, ask many times at once on new connections (so that both
    # workers answer): every answer must already show the new cohort.
    time.sleep(max(0.0, VISIBLE_WITHIN - 0.15 - (time.monotonic() - published_at)))
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: _health(base), range(32)))
        pages = list(pool.map(lambda path: _status(base + path),
                              ["/cohorts/late", "/search.json?cohort=late"] * 4))
    answers_by_pid: dict[int, list[dict[str, object]]] = {}
    for answer in answers:
        assert answer is not None
        answers_by_pid.setdefault(int(str(answer["pid"])), []).append(answer)
    assert len(answers_by_pid) == 2, "both workers answered"
    for pid, replies in answers_by_pid.items():
        for reply in replies:
            assert "late" in reply["cohorts"], (pid, reply)
            assert int(str(reply["documents"])) > int(str(before["documents"])), (pid, reply)
    assert pages == [200] * 8


@pytest.mark.parametrize("args", [["--workers", "0"], ["--port", "70000"]])
def test_serve_refuses_bad_arguments(args: list[str], tmp_path: Path) -> None:
    done = subprocess.run([CATALOGUE, "serve", *args],
                          env=environment(tmp_path / "data", tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --")
