"""The OpenAPI 3.1 description of the JSON API, generated from the resource declarations.

Each :class:`~web.routing.Resource` names its path, parameters, summary and the TypedDict
its JSON follows; the TypedDicts become JSON Schema components here, so the description
cannot drift from what mypy checks the views against.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, get_args, get_origin, is_typeddict

from web.routing import Resource

OPENAPI_VERSION = "3.1.0"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ok", "error", "errors", "status"],
    "properties": {
        "ok": {"const": False},
        "error": {"type": "string", "description": "What went wrong and what to do"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "status": {"type": "integer"},
    },
    "additionalProperties": False,
}


class SchemaBuilder:
    """JSON Schemas for Python types, TypedDicts as named components."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def schema(self, tp: Any) -> dict[str, Any]:
        if is_typeddict(tp):
            name = tp.__name__
            if name not in self.components:
                self.components[name] = {}  # placeholder: recursive shapes terminate
                self.components[name] = self._object(tp)
            return {"$ref": f"#/components/schemas/{name}"}
        origin = get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in get_args(tp) if a is not type(None)]
            nullable = len(options) < len(get_args(tp))
            schemas = [self.schema(a) for a in options]
            if nullable:
                schemas.append({"type": "null"})
            return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        if origin in (list, tuple, Sequence):
            args = [a for a in get_args(tp) if a is not Ellipsis]
            return {"type": "array", "items": self.schema(args[0]) if args else {}}
        if origin is dict:
            _, value = get_args(tp)
            return {"type": "object", "additionalProperties": self.schema(value)}
        if origin is Literal:
            return {"enum": list(get_args(tp))}
        simple = {str: "string", int: "integer", float: "number", bool: "boolean",
                  type(None): "null"}
        if tp in simple:
            return {"type": simple[tp]}
        if tp is Any or tp is object:
            return {}
        raise TypeError(f"no JSON Schema for {tp!r}")

    def _object(self, tp: Any) -> dict[str, Any]:
        hints = typing.get_type_hints(tp)
        required = sorted(getattr(tp, "__required_keys__", hints.keys()))
        out: dict[str, Any] = {
            "type": "object",
            "properties": {name: self.schema(hint) for name, hint in hints.items()},
        }
        if required:
            out["required"] = required
        if tp.__doc__ and not tp.__doc__.startswith(tp.__name__ + "("):
            out["description"] = " ".join(tp.__doc__.split())
        return out


def openapi(resources: Sequence[Resource], *, title: str = "Cohort catalogue",
            version: str = "1") -> dict[str, Any]:
    """The OpenAPI document for the JSON form of ``resources``."""
    builder = SchemaBuilder()
    paths: dict[str, Any] = {}
    for resource in resources:
        parameters: list[dict[str, Any]] = []
        for name in re.findall(r"{(\w+)}", resource.path):
            parameters.append({"name": name, "in": "path", "required": True,
                               "description": resource.path_params.get(name, name),
                               "schema": {"type": "string"}})
        for param in resource.query:
            schema = dict(param.schema)
            if param.repeated:
                schema = {"type": "array", "items": schema}
            parameters.append({"name": param.name, "in": "query", "required": False,
                               "description": param.description, "schema": schema,
                               **({"explode": True, "style": "form"} if param.repeated
                                  else {})})
        operation: dict[str, Any] = {
            "operationId": resource.name,
            "summary": resource.summary,
            "parameters": parameters,
            "responses": {
                "200": {"description": "The resource as JSON", "content": {
                    "application/json": {"schema": builder.schema(resource.schema)}}},
                "400": _error_response("A bad parameter (page number, filter)"),
                "404": _error_response("Nothing at this URN, slug or address"),
            },
        }
        paths[resource.json_path] = {"get": operation}
    paths["/api/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This description",
        "responses": {"200": {"description": "OpenAPI 3.1 document", "content": {
            "application/json": {"schema": {"type": "object"}}}}}}}
    components = {"schemas": {**dict(sorted(builder.components.items())),
                              "Error": ERROR_SCHEMA}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version,
                 "description": "Every page of the catalogue as JSON: add .json to its "
                                "address or ask for application/json. Errors share one "
                                "shape (Error)."},
        "paths": paths,
        "components": components,
    }


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
