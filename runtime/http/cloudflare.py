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

if TYPE_CHECKING:
    from .app import AppContext

PREFIX = "/client/v4"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 2**31 - 1  # a page number is echoed in result_info: keep it a JSON-safe integer


def envelope(result: Any, **extra: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": [], **extra}


def error_response(error: EmuError, request_id: str) -> Response:
    body = {
        "result": {},  # what Cloudflare's API returns on errors (an empty object, not null)
        "success": False,
        "errors": [{"code": error.code, "message": error.cf_message}],
        "messages": [],
    }
    return wire.json_response(body, error.status, wire.emu_headers(request_id))


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
        return wire.event_stream(run, {"x-emu-request-id": request_id, "x-emu-weights": run.weights})
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
