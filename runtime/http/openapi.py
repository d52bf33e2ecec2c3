"""The OpenAPI 3.1 description of the emulator's own HTTP surface, served at GET /cdn-cgi/emu/openapi.json.

The paths come from the app itself: `route_table` walks the starlette routes (mounted doors included), and every
route it finds must have a declaration in `OPERATIONS` (summary, parameters, request body, responses), and every
declaration a route; `build` refuses to describe an app otherwise, so the description cannot drift from the code.
The request and response bodies reuse the per-task JSON Schemas of runtime/tasks/ (the ones
`GET .../ai/models/schema` serves) and Cloudflare's envelope.

HEAD is left out: starlette answers HEAD wherever GET is served, with the same status and headers and no body.
"""

from __future__ import annotations

import base64
import copy
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ..errors import NoSuchModel
from ..metering.report import DIMENSIONS
from ..tasks import input_schema, output_schema
from . import cloudflare, internal

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..catalog import Catalog

VERSION = "3.1.0"
DOCUMENTED_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH")  # HEAD: see the module docstring
_CONVERTOR = re.compile(r"{([^}:]+)(?::[^}]+)?}")


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


# --- shared pieces -----------------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _text(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


EMU_HEADERS: dict[str, Any] = {
    "x-emu-request-id": {
        "description": "The request's id, as the ledger records it",
        "required": True,
        "schema": {"type": "string", "minLength": 16},
    },
    "x-emu-cost-usd": {
        "description": 'What the request was billed at Workers AI prices, in US dollars ("0" when nothing)',
        "required": True,
        "schema": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
    },
    "x-emu-weights": {
        "description": 'Which weights answered: "real", or "stand-in:<name>" for a bundled stand-in',
        "schema": {"type": "string"},
    },
}

CF_ERROR = {
    "type": "object",
    "description": "Cloudflare's error envelope",
    "required": ["result", "success", "errors", "messages"],
    "properties": {
        "result": {"type": "object", "maxProperties": 0},
        "success": {"const": False},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
        "messages": {"type": "array"},
    },
}
HF_ERROR = {
    "type": "object",
    "description": "The Hugging Face Inference API's error body",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "estimated_time": {"type": "number", "description": "Seconds until a loading model is ready"},
    },
}
EMU_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}

# Every status each door answers errors with (runtime/errors.py: `status` for Cloudflare, `hf_status` for HF).
CF_ERROR_STATUSES = {
    "400": "Bad input (5006), no such model (5007), missing body (3003), no route (7000)",
    "401": "A bearer token is required and missing or wrong (10000)",
    "408": "Inference timed out (3007) or the request was aborted (3008)",
    "413": "The body is over max_body_bytes (3006)",
    "429": "Out of capacity (3040) or over the day's budget (3036)",
    "500": "A broken model folder, or an unexpected failure (3043); a 5xx here is a bug or an injected fault",
    "503": "The model is loading (3040) or its weights are unavailable (5007)",
}
HF_ERROR_STATUSES = {
    "400": "Bad input, missing body",
    "401": "A bearer token is required and missing or wrong",
    "404": "No such model, or no such route",
    "408": "The request was aborted",
    "413": "The body is over max_body_bytes",
    "429": "Out of capacity, or over the day's budget",
    "500": "A broken model folder, or an unexpected failure; a 5xx here is a bug or an injected fault",
    "503": "The model is loading (with estimated_time) or its weights are unavailable",
    "504": "Inference timed out",
}


def _cf_ok(result: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "result": result,
        "success": {"const": True},
        "errors": {"type": "array", "maxItems": 0},
        "messages": {"type": "array"},
        **(extra or {}),
    }
    return {"type": "object", "required": ["result", "success", "errors", "messages"], "properties": props}


def _cf_responses(result: dict[str, Any], description: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {"200": _json(_cf_ok(result, extra), description, EMU_HEADERS)}
    for status, text in CF_ERROR_STATUSES.items():
        out[status] = _json(_ref("CloudflareError"), text, EMU_HEADERS)
    return out


def _hf_errors() -> dict[str, Any]:
    return {status: _json(_ref("HuggingFaceError"), text, EMU_HEADERS) for status, text in HF_ERROR_STATUSES.items()}


def _path_param(name: str, description: str, examples: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    out: dict[str, Any] = {"name": name, "in": "path", "required": True, "description": description, "schema": schema}
    if examples:
        out["examples"] = {f"e{i}": {"value": v} for i, v in enumerate(examples)}
    return out


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _header(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


ACCOUNT = _path_param("account_id", "Any account id: the emulator serves one local account")
TOKEN_QUERY = _query("token", {"type": "string"}, "The api_token, for a browser that cannot send a header")
FLAG = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}
BINARY = {"type": "string", "format": "binary"}


@cache
def example_png() -> bytes:
    """A small real PNG (32 x 24), so the description's examples run real inference."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (180, 60, 40)).save(out, format="PNG")
    return out.getvalue()


# --- the operations ----------------------------------------------------------------------------------------


@dataclass
class Spec:
    """What the app needs to describe an operation: its catalog's model names and task schemas."""

    names: list[str]
    hf_ids: list[str]
    tasks: list[str]


@dataclass
class Operation:
    summary: str
    tag: str
    build: Callable[[Spec], dict[str, Any]] = field(default=lambda spec: {})
    secured: bool = True  # needs the api_token when one is set


def _run(spec: Spec) -> dict[str, Any]:
    inputs = [_ref(f"Input.{t}") for t in spec.tasks]
    headers = [
        _header("cf-aig-skip-cache", {"type": "string"}, "AI Gateway: skip the cache when true or 1"),
        _header("cf-aig-cache-ttl", {"type": "string", "pattern": "^[0-9]{1,9}$"}, "AI Gateway: cache TTL, seconds"),
        _header("cf-aig-cache-key", {"type": "string"}, "AI Gateway: the cache key"),
        _header("cf-aig-metadata", {"type": "string"}, "AI Gateway: a JSON object recorded with the request"),
    ]
    output = {"anyOf": [_ref(f"Output.{t}") for t in spec.tasks]}
    responses = _cf_responses(output, "The model's output in Cloudflare's envelope")
    cache_status = {"description": "AI Gateway's cache", "schema": {"type": "string", "enum": ["HIT", "MISS"]}}
    responses["200"]["headers"] = {**EMU_HEADERS, "cf-aig-cache-status": cache_status}
    return {
        "parameters": [ACCOUNT, _path_param("model", "The Workers AI model name", spec.names), *headers],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"anyOf": inputs} if inputs else {"type": "object"},
                    "examples": {"png": {"value": {"image": list(example_png())}}},
                },
                "application/octet-stream": {"schema": BINARY},
            },
        },
        "responses": responses,
    }


def _search(spec: Spec) -> dict[str, Any]:
    positive = {"type": "integer", "minimum": 1, "maximum": cloudflare.MAX_PAGE}
    info = {
        "type": "object",
        "required": ["page", "per_page", "count", "total_count"],
        "properties": {k: {"type": "integer"} for k in ("page", "per_page", "count", "total_count")},
    }
    return {
        "parameters": [
            ACCOUNT,
            _query("page", positive, "Page number, from 1"),
            _query("per_page", positive, "Models per page (at most 100)"),
            _query("search", {"type": "string"}, "Text in the model's name or description"),
            _query("task", {"type": "string"}, "A task's id, name or slug"),
            _query("author", {"type": "string"}, "The author, e.g. facebook"),
            _query("source", positive, "The model source (1: Workers AI)"),
            _query("hide_experimental", FLAG, "Leave experimental models out"),
        ],
        "responses": _cf_responses(
            {"type": "array", "items": _ref("Model")}, "The models, paged", {"result_info": info}
        ),
    }


def _schema(spec: Spec) -> dict[str, Any]:
    result = {
        "type": "object",
        "required": ["input", "output"],
        "properties": {"input": {"type": "object"}, "output": {"type": "object"}},
    }
    model = _query("model", {"type": "string", "minLength": 1}, "The Workers AI model name", required=True)
    if spec.names:
        model["examples"] = {f"e{i}": {"value": v} for i, v in enumerate(spec.names)}
    return {"parameters": [ACCOUNT, model], "responses": _cf_responses(result, "The model's JSON Schemas")}


def _named_list(spec: Spec) -> dict[str, Any]:
    return {"parameters": [ACCOUNT], "responses": _cf_responses({"type": "array", "items": _ref("Named")}, "The list")}


def _cf_no_route(spec: Spec) -> dict[str, Any]:
    rest = [_path_param("rest", "Any other path")]
    return {"parameters": rest, "responses": {"400": _json(_ref("CloudflareError"), "No route (7000)", EMU_HEADERS)}}


def _cf_root(spec: Spec) -> dict[str, Any]:
    return {"responses": {"400": _json(_ref("CloudflareError"), "No route (7000)", EMU_HEADERS)}}


HF_ID = "The model's Hugging Face id (or its Workers AI name)"


def _hf_infer(spec: Spec) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["inputs"],
        "additionalProperties": False,
        "properties": {
            "inputs": {"type": "string", "contentEncoding": "base64", "description": "The image file, base64"},
            "parameters": {"type": "object", "description": "The pipeline's parameters (threshold, top_k, ...)"},
            "options": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"use_cache": {"type": "boolean"}, "wait_for_model": {"type": "boolean"}},
            },
        },
    }
    ok_headers = {
        **EMU_HEADERS,
        "x-request-id": {"schema": {"type": "string"}},
        "x-compute-time": {"schema": {"type": "string"}},
        "x-compute-type": {"schema": {"type": "string"}},
        "x-emu-cache": {"schema": {"type": "string", "enum": ["hit", "miss"]}},
    }
    output = {"anyOf": [_ref(f"Output.{t}") for t in spec.tasks]}
    return {
        "parameters": [
            _path_param("hf_id", HF_ID, spec.hf_ids),
            _header("x-use-cache", FLAG, "Answer identical requests from the cache (default true)"),
            _header("x-wait-for-model", FLAG, "Wait for a loading model rather than a 503 (default false)"),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": body,
                    "examples": {"png": {"value": {"inputs": base64.b64encode(example_png()).decode()}}},
                },
                "application/octet-stream": {"schema": BINARY},
            },
        },
        "responses": {"200": _json(output, "The pipeline's output", ok_headers), **_hf_errors()},
    }


def _hf_health(spec: Spec) -> dict[str, Any]:
    ok = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    return {
        "parameters": [_path_param("hf_id", HF_ID, spec.hf_ids)],
        "responses": {"200": _json(ok, "The model is served here", EMU_HEADERS), **_hf_errors()},
    }


def _hf_info(spec: Spec) -> dict[str, Any]:
    keys = ("model_id", "model_sha", "pipeline_tag", "framework", "workers_ai_name", "weights", "status")
    info = {
        "type": "object",
        "required": list(keys),
        "properties": {k: {"type": ["string", "null"]} for k in keys},
    }
    return {
        "parameters": [_path_param("hf_id", HF_ID, spec.hf_ids)],
        "responses": {
            "200": _json(info, "What InferenceClient.get_endpoint_info() reads", EMU_HEADERS),
            **_hf_errors(),
        },
    }


def _hf_no_route(spec: Spec) -> dict[str, Any]:
    return {
        "parameters": [_path_param("rest", "Any other path")],
        "responses": {"404": _json(_ref("HuggingFaceError"), "No route", EMU_HEADERS), **_hf_errors()},
    }


def _emu(ok: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An operation of /cdn-cgi/emu: `?token=` accepted, 401 without the token when one is set."""
    responses = {
        "200": ok,
        "401": _json(_ref("EmuError"), "The api_token is set and was not given"),
        **(extra or {}),
    }
    return {"parameters": [TOKEN_QUERY], "responses": responses}


def _costs(spec: Spec) -> dict[str, Any]:
    report = {"type": "object", "required": ["total_usd", "requests", "by"], "properties": {"budget": {}}}
    op = _emu(
        _json(report, "The cost report (the same JSON as `workers-ai-emu costs --format json`)"),
        {
            "400": _json(_ref("EmuError"), "A bad since, until or by, or an unknown query parameter"),
            "503": _json(_ref("EmuError"), "Metering is off: there is no ledger"),
        },
    )
    op["parameters"] += [
        _query("since", {"type": "string"}, "ISO date or datetime (inclusive)"),
        _query("until", {"type": "string"}, "ISO date or datetime (exclusive)"),
        _query("by", {"type": "string", "enum": list(DIMENSIONS)}, "Grouping"),
        _query("instance", {"type": "string"}, "Only the rows this emulator instance wrote (a shared ledger)"),
    ]
    return op


def _requests(spec: Spec) -> dict[str, Any]:
    rows = {
        "type": "object",
        "required": ["requests"],
        "properties": {"requests": {"type": "array", "items": {"type": "object"}}},
    }
    op = _emu(
        _json(rows, "The latest ledger rows, newest first"),
        {
            "400": _json(_ref("EmuError"), "limit is not a whole number from 1 to 1000"),
            "503": _json(_ref("EmuError"), "Metering is off: there is no ledger"),
        },
    )
    op["parameters"].append(_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "How many rows"))
    return op


def _health(spec: Spec) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["status", "models", "ledger", "budget"],
        "properties": {
            "status": {"const": "ok"},
            "models": {"type": "integer"},
            "ledger": {"type": ["object", "null"]},
            "budget": {"type": ["object", "null"]},
        },
    }
    return {"responses": {"200": _json(body, "The server is alive")}}


def _ready(spec: Spec) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["status", "models"],
        "properties": {"status": {"enum": ["ready", "loading"]}, "models": {"type": "object"}},
    }
    return _emu(_json(body, "Every preloaded model is loaded"), {"503": _json(body, "Models still loading")})


FAULT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "code": {"type": ["integer", "null"]},
        "model": {"type": ["string", "null"]},
        "rate": {"type": "number"},
        "seed": {"type": ["integer", "null"]},
        "times": {"type": ["integer", "null"]},
        "delay_s": {"type": "number"},
    },
}
FAULTS = {"type": "object", "required": ["faults"], "properties": {"faults": {"type": "array", "items": FAULT}}}


def _faults_get(spec: Spec) -> dict[str, Any]:
    return _emu(_json(FAULTS, "The fault rules in force"))


def _faults_post(spec: Spec) -> dict[str, Any]:
    op = _emu(
        _json(FAULTS, "The fault rules now in force"),
        {"400": _json(_ref("EmuError"), "The body is not a list of valid fault rules")},
    )
    op["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": FAULTS, "examples": {"clear": {"value": {"faults": []}}}}},
    }
    return op


def _faults_delete(spec: Spec) -> dict[str, Any]:
    return _emu(_json(FAULTS, "No fault rules are in force any more"))


def _dashboard(spec: Spec) -> dict[str, Any]:
    return _emu(_text("text/html", "The dashboard page"))


def _metrics(spec: Spec) -> dict[str, Any]:
    return _emu(_text("text/plain", "Prometheus' text exposition format"))


def _static(spec: Spec) -> dict[str, Any]:
    return {
        "parameters": [_path_param("path", "A file of the dashboard (script, style)")],
        "responses": {"200": {"description": "The file"}, "404": {"description": "No such file"}},
    }


def _openapi(spec: Spec) -> dict[str, Any]:
    return _emu(_json({"type": "object", "required": ["openapi", "paths"]}, "This document"))


def _worker(spec: Spec) -> dict[str, Any]:
    return {
        "parameters": [_path_param("path", "Any path no API claims")],
        "responses": {
            "default": {"description": "What the Worker's fetch handler answers; 404 text when no Worker is set"}
        },
    }


CF = "/client/v4"
CF_ACCOUNT = CF + "/accounts/{account_id}/ai"
HF = "/hf-inference"
EMU = internal.PREFIX
ANY = DOCUMENTED_METHODS

OPERATIONS: dict[tuple[str, str], Operation] = {
    (f"{CF_ACCOUNT}/run/{{model}}", "POST"): Operation("Run a model (Workers AI REST)", "cloudflare", _run),
    (f"{CF_ACCOUNT}/models/search", "GET"): Operation("Search the models", "cloudflare", _search),
    (f"{CF_ACCOUNT}/models/schema", "GET"): Operation("A model's input and output schemas", "cloudflare", _schema),
    (f"{CF_ACCOUNT}/tasks/search", "GET"): Operation("The tasks of the models served", "cloudflare", _named_list),
    (f"{CF_ACCOUNT}/authors/search", "GET"): Operation("The authors of the models served", "cloudflare", _named_list),
    **{(f"{CF}/{{rest}}", m): Operation("No such Cloudflare route", "cloudflare", _cf_no_route) for m in ANY},
    **{(CF, m): Operation("No such Cloudflare route", "cloudflare", _cf_root) for m in ANY},
    (f"{HF}/models/{{hf_id}}", "POST"): Operation("Run a model (Hugging Face Inference API)", "huggingface", _hf_infer),
    (f"{HF}/models/{{hf_id}}/health", "GET"): Operation("Is the model served here", "huggingface", _hf_health),
    (f"{HF}/models/{{hf_id}}/info", "GET"): Operation("What the model is", "huggingface", _hf_info),
    **{(f"{HF}/{{rest}}", m): Operation("No such Hugging Face route", "huggingface", _hf_no_route) for m in ANY},
    (f"{EMU}/costs", "GET"): Operation("The cost report", "emulator", _costs),
    (f"{EMU}/requests", "GET"): Operation("The latest requests", "emulator", _requests),
    (f"{EMU}/health", "GET"): Operation("Liveness (never needs the token)", "emulator", _health, secured=False),
    (f"{EMU}/ready", "GET"): Operation("Readiness: the preloaded models are loaded", "emulator", _ready),
    (f"{EMU}/faults", "GET"): Operation("The fault rules in force", "emulator", _faults_get),
    (f"{EMU}/faults", "POST"): Operation("Replace the fault rules", "emulator", _faults_post),
    (f"{EMU}/faults", "DELETE"): Operation("Clear the fault rules", "emulator", _faults_delete),
    (f"{EMU}/dashboard", "GET"): Operation("The cost dashboard", "emulator", _dashboard),
    (f"{EMU}/metrics", "GET"): Operation("Prometheus metrics", "emulator", _metrics),
    (f"{EMU}/openapi.json", "GET"): Operation("This OpenAPI description", "emulator", _openapi),
    (f"{EMU}/static/{{path}}", "GET"): Operation("The dashboard's files", "emulator", _static, secured=False),
    **{("/{path}", m): Operation("The Worker (every path no API claims)", "worker", _worker, False) for m in ANY},
}


# --- the document ------------------------------------------------------------------------------------------


class DriftError(Exception):
    """The app's routes and OPERATIONS disagree."""


def components(catalog: Catalog) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "CloudflareError": CF_ERROR,
        "HuggingFaceError": HF_ERROR,
        "EmuError": EMU_ERROR,
        "Named": {
            "type": "object",
            "required": ["id", "name", "description"],
            "properties": {k: {"type": "string"} for k in ("id", "name", "description")},
        },
        "Model": {
            "type": "object",
            "required": ["id", "source", "name", "description", "task", "tags", "properties"],
            "properties": {
                "id": {"type": "string"},
                "source": {"type": "integer"},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "task": _ref("Named"),
                "tags": {"type": "array"},
                "properties": {"type": "array", "items": {"type": "object", "required": ["property_id", "value"]}},
            },
        },
    }
    for task in _tasks(catalog):
        schemas[f"Input.{task}"] = input_schema(task)
        schemas[f"Output.{task}"] = output_schema(task)
    return {
        "schemas": schemas,
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "[emulator] api_token, when it is set"}
        },
    }


def _tasks(catalog: Catalog) -> list[str]:
    tasks = []
    for task in sorted({e.schema or e.task for e in catalog}):
        try:
            input_schema(task)
        except NoSuchModel:
            continue
        tasks.append(task)
    return tasks


def build(app: Starlette) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`: one operation per (path, method) its routes serve."""
    catalog = app.state.ctx.service.catalog
    spec = Spec(
        names=[e.name for e in catalog if e.listed],
        hf_ids=[e.hf_id for e in catalog if e.listed and e.hf_id],
        tasks=_tasks(catalog),
    )
    table = route_table(app.routes)
    missing = [key for key in table if key not in OPERATIONS]
    unrouted = sorted(set(OPERATIONS) - set(table))
    if missing or unrouted:
        raise DriftError(f"routes without a description: {missing}; descriptions without a route: {unrouted}")
    paths: dict[str, dict[str, Any]] = {}
    for path, method in table:
        declared = OPERATIONS[(path, method)]
        op = copy.deepcopy(declared.build(spec))
        op = {
            "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path).rstrip('_')}",
            "summary": declared.summary,
            "tags": [declared.tag],
            **op,
        }
        op["security"] = [{}, {"bearer": []}] if declared.secured else [{}]
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": VERSION,
        "info": {
            "title": "workers-ai-emu",
            "version": _version(),
            "description": "The HTTP surface of the local Workers AI emulator: Cloudflare's Workers AI REST API, "
            "the Hugging Face Inference API, the emulator's own /cdn-cgi/emu pages, and the Worker. Every GET "
            "also answers HEAD (no body). With [emulator] api_token set, every operation but liveness, the "
            "dashboard's static files and the Worker needs `Authorization: Bearer <token>`.",
        },
        "tags": [
            {"name": "cloudflare", "description": "Cloudflare's Workers AI REST API (/client/v4)"},
            {"name": "huggingface", "description": "The Hugging Face Inference API (/hf-inference)"},
            {"name": "emulator", "description": "The emulator's own pages (/cdn-cgi/emu)"},
            {"name": "worker", "description": "The user's Worker"},
        ],
        "paths": paths,
        "components": components(catalog),
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("workers-ai-emu")
    except PackageNotFoundError:
        return "0"


async def serve(request: Request) -> Response:
    """GET /cdn-cgi/emu/openapi.json (token-protected when api_token is set, as the other pages)."""
    if (denied := internal.refused(request)) is not None:
        return denied
    app = request.app
    doc = getattr(app.state, "openapi", None)
    if doc is None:
        doc = app.state.openapi = build(app)
    return JSONResponse(doc, headers={"cache-control": "no-store"})


ROUTES: list[BaseRoute] = [Route(f"{EMU}/openapi.json", serve, methods=["GET"])]
