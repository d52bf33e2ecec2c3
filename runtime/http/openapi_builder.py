"""A generic OpenAPI 3.1 builder for a starlette app whose route modules describe their own operations.

Each door declares, beside its routes, a `Section`: its tag, the operations it serves (keyed by OpenAPI path
template and method, each built from the `Spec` of the served catalog) and the component schemas they refer to.
`document` walks the app's routes (`route_table`, mounted doors included) and refuses to describe the app
(`DriftError`) when a route has no declared operation or a declared operation no route, so the description cannot
drift from the code.

HEAD is left out: starlette answers HEAD wherever GET is served, with the same status and headers and no body.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

VERSION = "3.1.0"
DOCUMENTED_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH")  # HEAD: see the module docstring
ANY = DOCUMENTED_METHODS  # the methods a catch-all route (or an ASGI app as endpoint) answers
BINARY = {"type": "string", "format": "binary"}
_CONVERTOR = re.compile(r"{([^}:]+)(?::[^}]+)?}")


class DriftError(Exception):
    """The app's routes and the declared operations disagree."""


@dataclass(frozen=True)
class Spec:
    """What an operation's description may vary with: the served catalog's model names, their Hub ids, and the
    task schemas with a component each (`Input.<task>`, `Output.<task>`) and the catalog task each belongs to."""

    names: list[str]
    hf_ids: list[str]
    tasks: list[str]
    hf_outputs: dict[str, str] = field(default_factory=dict)  # task schema name -> its Hugging Face answer's component


@dataclass(frozen=True)
class Operation:
    summary: str
    build: Callable[[Spec], dict[str, Any]] = field(default=lambda spec: {})
    secured: bool = True  # needs the api_token when one is set


def fixed(description: dict[str, Any]) -> Callable[[Spec], dict[str, Any]]:
    """An operation's `build` when its description does not vary with the catalog (`document` copies it)."""
    return lambda spec: description


Operations = dict[tuple[str, str], Operation]  # (OpenAPI path template, method) -> its description


@dataclass(frozen=True)
class Section:
    """What one door declares: its tag, its operations, the component schemas they refer to by `ref`."""

    tag: str
    description: str
    operations: Operations
    schemas: dict[str, Any] = field(default_factory=dict)


# --- the routes --------------------------------------------------------------------------------------------


def route_table(routes: Iterable[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(OpenAPI path template, method) for every route of an app, doors' mounted sub-apps included."""
    out: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            inner = route.routes
            if inner:
                out += route_table(inner, prefix + route.path)
            else:  # a mounted ASGI app with no routes of its own (the static files)
                out.append((template(prefix + route.path + "/{path}"), "GET"))
        elif isinstance(route, Route):
            methods = route.methods or DOCUMENTED_METHODS  # an ASGI app as endpoint answers every method
            path = template(prefix + route.path)
            out += [(path, m) for m in DOCUMENTED_METHODS if m in methods]
    return out


def template(path: str) -> str:
    """starlette's `{model:path}` as OpenAPI's `{model}`."""
    return _CONVERTOR.sub(r"{\1}", path) or "/"


# --- pieces the operations are made of ---------------------------------------------------------------------


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def text_answer(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def path_param(name: str, description: str, examples: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    out: dict[str, Any] = {"name": name, "in": "path", "required": True, "description": description, "schema": schema}
    if examples:
        out["examples"] = examples_of(examples)
    return out


def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def header(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


def examples_of(values: Sequence[Any]) -> dict[str, Any]:
    return {f"e{i}": {"value": v} for i, v in enumerate(values)}


# --- the document ------------------------------------------------------------------------------------------


def operations_of(sections: Iterable[Section]) -> dict[tuple[str, str], tuple[Section, Operation]]:
    """Every declared operation with the section declaring it; the same operation declared twice is refused."""
    out: dict[tuple[str, str], tuple[Section, Operation]] = {}
    for section in sections:
        for key, op in section.operations.items():
            if key in out:
                raise DriftError(f"{key} is declared by both {out[key][0].tag!r} and {section.tag!r}")
            out[key] = (section, op)
    return out


def operation_id(path: str, method: str) -> str:
    return f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path).rstrip('_')}"


def document(
    routes: Iterable[BaseRoute],
    sections: Sequence[Section],
    spec: Spec,
    info: dict[str, Any],
    schemas: dict[str, Any],
    security_scheme: tuple[str, dict[str, Any]],
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of an app: one operation per (path, method) its routes serve, in route order.

    `schemas`: component schemas beside the sections' own; `security_scheme`: (name, scheme) that a secured
    operation may be called with (or without: it is only needed when configured)."""
    declared = operations_of(sections)
    table = route_table(routes)
    missing = [key for key in table if key not in declared]
    unrouted = sorted(set(declared) - set(table))
    if missing or unrouted:
        raise DriftError(f"routes without a description: {missing}; descriptions without a route: {unrouted}")
    scheme, scheme_object = security_scheme
    paths: dict[str, dict[str, Any]] = {}
    for path, method in table:
        section, described = declared[(path, method)]
        op = {
            "operationId": operation_id(path, method),
            "summary": described.summary,
            "tags": [section.tag],
            **copy.deepcopy(described.build(spec)),
        }
        op["security"] = [{}, {scheme: []}] if described.secured else [{}]
        paths.setdefault(path, {})[method.lower()] = op
    tags: dict[str, str] = {}
    for section in sections:
        tags.setdefault(section.tag, section.description)
    components: dict[str, Any] = {}
    for section in sections:
        components.update(section.schemas)
    components.update(schemas)
    return {
        "openapi": VERSION,
        "info": info,
        "tags": [{"name": name, "description": text} for name, text in tags.items()],
        "paths": paths,
        "components": {"schemas": copy.deepcopy(components), "securitySchemes": {scheme: scheme_object}},
    }
