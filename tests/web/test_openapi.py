"""/api/openapi.json describes every JSON route, generated from the route declarations."""

from __future__ import annotations

import pytest
from conftest import Client
from starlette.routing import Route

from web.app import all_resources, create_app, view_modules


def test_openapi_is_valid(site: Client) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    document = site.json("/api/openapi.json")
    validator.validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_json_route_is_described(site: Client) -> None:
    document = site.json("/api/openapi.json")
    app = create_app(site.settings)
    json_routes = {r.path.replace(":path}", "}") for r in app.routes
                   if isinstance(r, Route) and r.path.endswith(".json")}
    assert json_routes <= set(document["paths"])
    for resource in all_resources(view_modules()):
        operation = document["paths"][resource.json_path]["get"]
        assert operation["summary"] and operation["operationId"] == resource.name
        assert {"200", "400", "404"} <= set(operation["responses"])


def test_error_schema_is_the_fixed_shape(site: Client) -> None:
    error = site.json("/api/openapi.json")["components"]["schemas"]["Error"]
    assert error["required"] == ["ok", "error", "errors", "status"]
