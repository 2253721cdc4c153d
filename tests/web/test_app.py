"""The application's lifespan: what a worker sets up for as long as it serves."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

from conftest import Published, running

from web.app import FULL_COLLECTION_EVERY


def test_a_serving_worker_makes_full_garbage_collections_rare(
        published: Published, tmp_path: Path) -> None:
    # Full passes walk every cached object while requests wait; the worker spaces them
    # out while it serves, and gives the process its own settings back when it stops.
    data = tmp_path / "data"
    shutil.copytree(published.data_dir, data)
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
    assert serving == (700, 10, FULL_COLLECTION_EVERY)
    assert frozen > 0  # what startup built is out of every pass
    assert after == (700, 10, 10)
