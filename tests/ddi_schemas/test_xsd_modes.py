"""Streaming and tree validation find the same errors at the same places.

Small files are validated as a tree, large ones streamed (the error locations of the
streamed parse are worked out by validating each unit again); on every example, invalid
ones included, both ways must agree finding for finding, and agree with EXPECTED.tsv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ddi_schemas.inspect import inspect_document
from ddi_schemas.registry import load_schema
from ddi_schemas.xsd import validate_xsd


def test_streaming_and_tree_validation_agree(example: Any, schema_dir: Path) -> None:
    info = inspect_document(example.path)
    if info.envelope is not None:
        pytest.skip("a document inside an envelope is always validated as a tree")
    schema = load_schema(info.ddi_version, schema_dir)

    streamed = validate_xsd(info, schema, streaming=True)
    tree = validate_xsd(info, schema, streaming=False)

    assert streamed == tree
    assert len(streamed) == example.error_count
    if example.first_error_line is not None:
        assert streamed[0].line == example.first_error_line
        assert all(f.path.startswith("/") for f in streamed)
