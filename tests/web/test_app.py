"""The application's lifespan: what a worker sets up for as long as it serves."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import Published, running

import web.app
from catalogue.batch import BATCH_THRESHOLDS
from catalogue.settings import Settings
from web.app import FULL_COLLECTION_EVERY


def test_a_serving_worker_makes_full_garbage_collections_rare(
        published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Full passes walk every cached object while requests wait; the worker spaces them
    # out while it serves (and while it builds its structures at start, a batch), and
    # gives the process its own settings back when it stops.
    data = tmp_path / "data"
    shutil.copytree(published.data_dir, data)
    starting: list[tuple[int, int, int]] = []
    opening = web.app.open_resources

    def recording(settings: Settings) -> Any:
        starting.append(gc.get_threshold())
        return opening(settings)

    monkeypatch.setattr(web.app, "open_resources", recording)
    outside = gc.get_threshold()  # another app of this test session may be serving
    gc.set_threshold(700, 10, 10)  # Python's defaults
    try:
        with running(data, published.schema_dir) as site:
            assert site.get("/").status_code == 200
            serving = gc.get_threshold()
            frozen = gc.get_freeze_count()
        after = gc.get_threshold()
    finally:
        gc.set_threshold(*outside)
    assert starting == [BATCH_THRESHOLDS]
    assert serving == (700, 10, FULL_COLLECTION_EVERY)
    assert frozen > 0  # what startup built is out of every pass
    assert after == (700, 10, 10)


def test_a_worker_loads_every_template_as_it_starts(published: Published,
                                                    tmp_path: Path) -> None:
    # Compiling a template on the first request that needs it made every request behind
    # it wait (about a second for all of them, in each worker at each start).
    data = tmp_path / "data"
    shutil.copytree(published.data_dir, data)
    with running(data, published.schema_dir) as site:
        env = site.app.state.templates.env
        loaded = {name for _loader, name in env.cache.keys()}
        assert loaded == set(env.list_templates())
        assert len(loaded) > 40
