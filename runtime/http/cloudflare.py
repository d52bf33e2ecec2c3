"""Cloudflare's Workers AI REST API (`/client/v4/...`): a thin adapter over `InferenceService.run`.

Wire format in (raw image bytes or `{"image": [...]}`), one service call, Cloudflare's envelope out; errors are
the service's typed EmuErrors with their Cloudflare code and status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..catalog import shown
from ..errors import BadInput, EmuError, NoRoute
from ..gateway import GatewayOptions
from ..listing import author_object, author_of, matches_task, model_object, task_object
from ..runoptions import RunOptions
from ..runs import Caller
from ..tasks import task_of
from . import wire
from .openapi_builder import (
    ANY,
    BINARY,
    Operation,
    Section,
    Spec,
    examples_of,
    header,
    json_answer,
    path_param,
    query,
    ref,
)
from .openapi_shared import EMU_HEADERS, FLAG, cloudflare_statuses, example_png

if TYPE_CHECKING:
    from .context import AppContext

PREFIX = "/client/v4"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 2**31 - 1  # a page number is echoed in result_info: keep it a JSON-safe integer


def envelope(result: Any, **extra: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": [], **extra}


def error_body(error: EmuError) -> dict[str, Any]:
    return {
        "result": {},  # what Cloudflare's API returns on errors (an empty object, not null)
        "success": False,
        "errors": [{"code": error.code, "message": error.cf_message}],
        "messages": [],
    }


def error_response(error: EmuError, request_id: str) -> Response:
    return wire.json_response(error_body(error), error.status, wire.emu_headers(request_id))


def positive_int(request: Request, name: str, default: int, high: int | None = None, limit: int = MAX_PAGE) -> int:
    """A positive integer query parameter: `high` clamps it (per_page), over `limit` it is refused."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"query parameter {name!r} must be a positive integer, not {shown(raw)!r}") from None
    if value < 1 or (value > limit and not high):
        raise BadInput(f"query parameter {name!r} must be a positive integer up to {limit}, not {shown(raw)!r}")
    return min(value, high) if high else value


async def run(request: Request) -> Response:
    """POST .../ai/run/{model}: raw image bytes or {"image": [...]}, Cloudflare's envelope out."""
    ctx = wire.begin(request)
    service = ctx.service
    model = request.path_params["model"]
    body = await wire.read_body(request, service.settings.max_body_bytes)
    inputs: Any = None
    body_options = None
    if body:
        if wire.is_json(request, body):
            inputs = await wire.parse_json(body)
            if not isinstance(inputs, dict):
                raise BadInput(f'JSON body must be an object like {{"image": [...]}}, not {type(inputs).__name__}')
            body_options = inputs.pop("options", None)  # run options beside the inputs (runtime/runoptions.py)
        else:
            inputs = body
    request_id = wire.request_id_of(request)
    caller = Caller(
        source="rest",
        route=request.url.path,
        request_id=request_id,
        gateway=GatewayOptions.from_headers(request.headers),
        options=RunOptions.from_rest(request.query_params, request.query_params.getlist("tags"), body_options),
    )
    run = await service.start(model, inputs, None, caller)
    if run.streaming:  # `"stream": true`: server-sent events, the row written as they end
        return wire.event_stream(run, {"x-emu-request-id": request_id, "x-emu-weights": run.weights}, error_body)
    outcome = await run.outcome()
    headers = wire.emu_headers(request_id, outcome.cost, outcome.weights)
    if outcome.gateway_cache:
        headers["cf-aig-cache-status"] = outcome.gateway_cache
    return wire.json_response(envelope(outcome.result), 200, headers)


async def search(request: Request) -> Response:
    """GET .../ai/models/search: the listed catalog models, filtered and paged as Cloudflare does."""
    ctx = wire.begin(request)
    q = request.query_params
    page = positive_int(request, "page", 1)
    per_page = positive_int(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    entries = [e for e in ctx.service.catalog if e.listed]  # aliases are served, not listed twice
    if q.get("hide_experimental") and wire.flag(q["hide_experimental"], "hide_experimental"):
        entries = [e for e in entries if not e.experimental]
    if q.get("source"):
        source = positive_int(request, "source", 1)
        entries = [e for e in entries if model_object(e)["source"] == source]
    if q.get("task"):
        entries = [e for e in entries if matches_task(e, q["task"])]
    if q.get("author"):
        entries = [e for e in entries if author_of(e.name).lower() == q["author"].strip().lower()]
    if q.get("search"):
        s = q["search"].strip().lower()
        entries = [e for e in entries if s in e.name.lower() or s in e.description.lower()]
    entries.sort(key=lambda e: e.name)
    items = [model_object(e) for e in entries[(page - 1) * per_page : page * per_page]]
    info = {"page": page, "per_page": per_page, "count": len(items), "total_count": len(entries)}
    return wire.json_response(envelope(items, result_info=info), 200, wire.emu_headers(wire.request_id_of(request)))


async def tasks(request: Request) -> Response:
    """GET .../ai/tasks/search: the tasks of the models the emulator serves."""
    ctx = wire.begin(request)
    names = sorted({e.task for e in ctx.service.catalog if e.listed})
    return wire.json_response(
        envelope([task_object(t) for t in names]), 200, wire.emu_headers(wire.request_id_of(request))
    )


async def authors(request: Request) -> Response:
    """GET .../ai/authors/search: the authors of the models the emulator serves."""
    ctx = wire.begin(request)
    names = sorted({author_of(e.name) for e in ctx.service.catalog if e.listed} - {""})
    return wire.json_response(
        envelope([author_object(a) for a in names]), 200, wire.emu_headers(wire.request_id_of(request))
    )


async def schema(request: Request) -> Response:
    """GET .../ai/models/schema?model=...: the model's input and output JSON Schemas."""
    ctx = wire.begin(request)
    name = request.query_params.get("model")
    if not name:
        raise BadInput("query parameter 'model' is required")
    entry = ctx.service.catalog.get(name)
    return wire.json_response(
        envelope(task_of(entry).model_schema(entry)), 200, wire.emu_headers(wire.request_id_of(request))
    )


async def no_route(request: Request) -> Response:
    wire.begin(request)
    raise NoRoute("No route for that URI")


ROUTES = [
    Route("/accounts/{account_id}/ai/run/{model:path}", run, methods=["POST"]),
    Route("/accounts/{account_id}/ai/models/search", search, methods=["GET"]),
    Route("/accounts/{account_id}/ai/models/schema", schema, methods=["GET"]),
    Route("/accounts/{account_id}/ai/tasks/search", tasks, methods=["GET"]),
    Route("/accounts/{account_id}/ai/authors/search", authors, methods=["GET"]),
    Route("/{rest:path}", no_route, methods=ALL_METHODS),
]


def routes(ctx: AppContext) -> list[BaseRoute]:
    app = wire.door(ctx, ROUTES, error_response, source="rest", model_param="model")
    return [Mount(PREFIX, app=app), Route(PREFIX, app)]


# --- the OpenAPI description of this door (runtime/http/openapi.py collects it) ----------------------------

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
NAMED = {
    "type": "object",
    "required": ["id", "name", "description"],
    "properties": {k: {"type": "string"} for k in ("id", "name", "description")},
}
MODEL = {
    "type": "object",
    "required": ["id", "source", "name", "description", "task", "tags", "properties"],
    "properties": {
        "id": {"type": "string"},
        "source": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "task": ref("Named"),
        "tags": {"type": "array"},
        "properties": {"type": "array", "items": {"type": "object", "required": ["property_id", "value"]}},
    },
}
ACCOUNT = path_param("account_id", "Any account id: the emulator serves one local account")


def _ok(result: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "result": result,
        "success": {"const": True},
        "errors": {"type": "array", "maxItems": 0},
        "messages": {"type": "array"},
        **(extra or {}),
    }
    return {"type": "object", "required": ["result", "success", "errors", "messages"], "properties": props}


def _answers(result: dict[str, Any], description: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The envelope of `result` on 200, and Cloudflare's error envelope on every status an EmuError may have."""
    out = {"200": json_answer(_ok(result, extra), description, EMU_HEADERS)}
    for status, text in cloudflare_statuses().items():
        out[status] = json_answer(ref("CloudflareError"), text, EMU_HEADERS)
    return out


def _run(spec: Spec) -> dict[str, Any]:
    inputs = [ref(f"Input.{t}") for t in spec.tasks]
    headers = [
        header("cf-aig-skip-cache", {"type": "string"}, "AI Gateway: skip the cache when true or 1"),
        header("cf-aig-cache-ttl", {"type": "string", "pattern": "^[0-9]{1,9}$"}, "AI Gateway: cache TTL, seconds"),
        header("cf-aig-cache-key", {"type": "string"}, "AI Gateway: the cache key"),
        header("cf-aig-metadata", {"type": "string"}, "AI Gateway: a JSON object recorded with the request"),
    ]
    output = {"anyOf": [ref(f"Output.{t}") for t in spec.tasks]}
    responses = _answers(output, "The model's output in Cloudflare's envelope")
    cache_status = {"description": "AI Gateway's cache", "schema": {"type": "string", "enum": ["HIT", "MISS"]}}
    responses["200"]["headers"] = {**EMU_HEADERS, "cf-aig-cache-status": cache_status}
    return {
        "parameters": [ACCOUNT, path_param("model", "The Workers AI model name", spec.names), *headers],
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
    positive = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}
    info = {
        "type": "object",
        "required": ["page", "per_page", "count", "total_count"],
        "properties": {k: {"type": "integer"} for k in ("page", "per_page", "count", "total_count")},
    }
    return {
        "parameters": [
            ACCOUNT,
            query("page", positive, "Page number, from 1"),
            query("per_page", positive, f"Models per page (at most {MAX_PER_PAGE})"),
            query("search", {"type": "string"}, "Text in the model's name or description"),
            query("task", {"type": "string"}, "A task's id, name or slug"),
            query("author", {"type": "string"}, "The author, e.g. facebook"),
            query("source", positive, "The model source (1: Workers AI)"),
            query("hide_experimental", FLAG, "Leave experimental models out"),
        ],
        "responses": _answers({"type": "array", "items": ref("Model")}, "The models, paged", {"result_info": info}),
    }


def _schema(spec: Spec) -> dict[str, Any]:
    result = {
        "type": "object",
        "required": ["input", "output"],
        "properties": {"input": {"type": "object"}, "output": {"type": "object"}},
    }
    model = query("model", {"type": "string", "minLength": 1}, "The Workers AI model name", required=True)
    if spec.names:
        model["examples"] = examples_of(spec.names)
    return {"parameters": [ACCOUNT, model], "responses": _answers(result, "The model's JSON Schemas")}


def _named_list(spec: Spec) -> dict[str, Any]:
    return {"parameters": [ACCOUNT], "responses": _answers({"type": "array", "items": ref("Named")}, "The list")}


def _no_route(spec: Spec) -> dict[str, Any]:
    rest = [path_param("rest", "Any other path")]
    return {
        "parameters": rest,
        "responses": {"400": json_answer(ref("CloudflareError"), "No route (7000)", EMU_HEADERS)},
    }


def _root(spec: Spec) -> dict[str, Any]:
    return {"responses": {"400": json_answer(ref("CloudflareError"), "No route (7000)", EMU_HEADERS)}}


AI = PREFIX + "/accounts/{account_id}/ai"
NO_ROUTE = "No such Cloudflare route"
OPENAPI = Section(
    "cloudflare",
    f"Cloudflare's Workers AI REST API ({PREFIX})",
    {
        (f"{AI}/run/{{model}}", "POST"): Operation("Run a model (Workers AI REST)", _run),
        (f"{AI}/models/search", "GET"): Operation("Search the models", _search),
        (f"{AI}/models/schema", "GET"): Operation("A model's input and output schemas", _schema),
        (f"{AI}/tasks/search", "GET"): Operation("The tasks of the models served", _named_list),
        (f"{AI}/authors/search", "GET"): Operation("The authors of the models served", _named_list),
        **{(f"{PREFIX}/{{rest}}", m): Operation(NO_ROUTE, _no_route) for m in ANY},
        **{(PREFIX, m): Operation(NO_ROUTE, _root) for m in ANY},
    },
    {"CloudflareError": CF_ERROR, "Named": NAMED, "Model": MODEL},
)
