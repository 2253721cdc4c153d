"""JSON responses: orjson's speed, Starlette's bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Client
from starlette.responses import JSONResponse as StarletteJSONResponse

from web.responses import JSONResponse

PAGES = ["/index.json", "/cohorts/gazel.json",
         "/variables/urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93.json",
         "/search.json?q=tabac", "/concepts.json", "/variables/urn:ddi:fr.gazel:nope.json"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_send_the_bytes_starlette_would(site: Client, page: str) -> None:
    response = site.get(page)
    assert response.headers["content-type"] == "application/json"
    assert response.content == StarletteJSONResponse(response.json()).body


@pytest.mark.parametrize("content", [
    {"é": "naïve ✓", "n": [1, 2.5, None, True], "nested": {"a": []}},
    {1: "one", 2: {"3": 4}},  # keys that are not strings: written as strings
    "text", [], 0.1,
])
def test_the_encoding_is_json_dumps_compact_and_utf8(content: Any) -> None:
    body = JSONResponse(content).body
    assert body == json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
