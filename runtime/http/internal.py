"""The emulator's own pages under /cdn-cgi/emu/: cost report JSON, latest requests, health, and the dashboard.

Read-only views of the ledger; nothing here runs inference or writes rows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import AuthenticationError
from ..faults import FaultSpecError, Rule
from ..metering.metrics import CONTENT_TYPE
from ..metering.report import DIMENSIONS, ReportError
from .openapi_builder import Operation, Section, Spec, fixed, json_answer, path_param, query, ref, text_answer
from .wire import check_token, context

if TYPE_CHECKING:
    from .context import AppContext

PREFIX = "/cdn-cgi/emu"
STATIC = Path(__file__).with_name("static")
MAX_LIMIT = 1000


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def refused(request: Request) -> Response | None:
    """With an api_token configured, every route here but liveness (/health) needs it: a 401, else None."""
    try:
        check_token(request, context(request).service.settings.api_token, allow_query=True)
    except AuthenticationError as e:
        return _error(401, e.message)
    return None


async def costs(request: Request) -> Response:
    if (denied := refused(request)) is not None:
        return denied
    ctx = context(request)
    service, reports = ctx.service, ctx.reports
    q = request.query_params
    unknown = sorted(set(q) - {"since", "until", "by", "instance", "token"})
    if unknown:
        return _error(400, f"unknown query parameter {unknown[0]!r} (expected since, until, by, instance)")
    if reports is None:
        return _error(503, "metering is off: this emulator has no ledger")
    try:
        data = await asyncio.to_thread(
            reports.get, q.get("since"), q.get("until"), q.get("by", "model"), q.get("instance") or None
        )
        data["budget"] = await asyncio.to_thread(service.budget_status)
    except ReportError as e:
        return _error(400, str(e))
    return JSONResponse(data, headers={"cache-control": "no-store"})


async def requests_(request: Request) -> Response:
    if (denied := refused(request)) is not None:
        return denied
    service = context(request).service
    raw = request.query_params.get("limit", "50")
    try:
        limit = int(raw)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        return _error(400, f"limit: {raw!r} is not a whole number from 1 to {MAX_LIMIT}")
    if service.ledger is None:
        return _error(503, "metering is off: this emulator has no ledger")
    rows = await asyncio.to_thread(service.ledger.latest, limit)
    return JSONResponse({"requests": rows}, headers={"cache-control": "no-store"})


async def health(request: Request) -> Response:
    service = context(request).service
    ledger = service.ledger
    return JSONResponse(
        {
            "status": "ok",
            "models": len(service.catalog),
            "ledger": None
            if ledger is None
            else {
                "path": ledger.describe(),  # a PostgreSQL URL without its password
                "backend": "sqlite" if ledger.path is not None or ledger.describe() == ":memory:" else "postgresql",
                "instance": service.instance,
                "schema_version": await asyncio.to_thread(lambda: ledger.schema_version),
            },
            "budget": await asyncio.to_thread(service.budget_status),
        },
        headers={"cache-control": "no-store"},
    )


async def ready(request: Request) -> Response:
    """200 once every preloaded model is loaded; 503 naming what is still loading (or failed) before that."""
    if (denied := refused(request)) is not None:
        return denied
    ok, models = context(request).service.readiness()
    return JSONResponse(
        {"status": "ready" if ok else "loading", "models": models},
        status_code=200 if ok else 503,
        headers={"cache-control": "no-store"},
    )


async def faults(request: Request) -> Response:
    """GET: the fault rules in force. POST {"faults": [{code, model, rate, seed, times, delay_s}, ...]}:
    replace them (an empty list clears them). DELETE: clear them. Token-protected when api_token is set."""
    if (denied := refused(request)) is not None:
        return denied
    service = context(request).service
    if request.method == "DELETE":
        service.faults.clear()
    elif request.method == "POST":
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 'the body must be JSON: {"faults": [{"code": 3040, "rate": 0.25, "seed": 1}]}')
        items = body.get("faults") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return _error(400, 'the body must be {"faults": [...]}: a list of fault rules')
        try:
            rules = [Rule.from_table(item) for item in items]
        except FaultSpecError as e:
            return _error(400, str(e))
        service.faults.replace(rules)
    return JSONResponse(
        {"faults": [r.as_json() for r in service.faults.rules()]}, headers={"cache-control": "no-store"}
    )


async def metrics(request: Request) -> Response:
    """Prometheus text format (runtime/metering/metrics.py). Token-protected when api_token is set."""
    if (denied := refused(request)) is not None:
        return denied
    service = context(request).service
    body = await asyncio.to_thread(service.metrics.render)
    return Response(body, media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})


async def dashboard(request: Request) -> Response:
    if (denied := refused(request)) is not None:
        return denied
    return FileResponse(STATIC / "dashboard.html", headers={"cache-control": "no-store"})


ROUTES: list[BaseRoute] = [
    Route(f"{PREFIX}/costs", costs, methods=["GET"]),
    Route(f"{PREFIX}/requests", requests_, methods=["GET"]),
    Route(f"{PREFIX}/health", health, methods=["GET"]),
    Route(f"{PREFIX}/ready", ready, methods=["GET"]),
    Route(f"{PREFIX}/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route(f"{PREFIX}/dashboard", dashboard, methods=["GET"]),
    Route(f"{PREFIX}/metrics", metrics, methods=["GET"]),
    Mount(f"{PREFIX}/static", app=StaticFiles(directory=STATIC), name="emu-static"),
]


def routes(ctx: AppContext) -> list[BaseRoute]:
    return ROUTES


# --- the OpenAPI description of these pages (runtime/http/openapi.py collects it) --------------------------

EMU_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
TOKEN_QUERY = query("token", {"type": "string"}, "The api_token, for a browser that cannot send a header")
NO_LEDGER = "Metering is off: there is no ledger"


def token_page(ok: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An operation of /cdn-cgi/emu: `?token=` accepted, 401 without the token when one is set (see `refused`)."""
    responses = {
        "200": ok,
        "401": json_answer(ref("EmuError"), "The api_token is set and was not given"),
        **(extra or {}),
    }
    return {"parameters": [TOKEN_QUERY], "responses": responses}


def _costs(spec: Spec) -> dict[str, Any]:
    report = {"type": "object", "required": ["total_usd", "requests", "by"], "properties": {"budget": {}}}
    op = token_page(
        json_answer(report, "The cost report (the same JSON as `workers-ai-emu costs --format json`)"),
        {
            "400": json_answer(ref("EmuError"), "A bad since, until or by, or an unknown query parameter"),
            "503": json_answer(ref("EmuError"), NO_LEDGER),
        },
    )
    op["parameters"] += [
        query("since", {"type": "string"}, "ISO date or datetime (inclusive)"),
        query("until", {"type": "string"}, "ISO date or datetime (exclusive)"),
        query("by", {"type": "string", "enum": list(DIMENSIONS)}, "Grouping"),
        query("instance", {"type": "string"}, "Only the rows this emulator instance wrote (a shared ledger)"),
    ]
    return op


def _requests(spec: Spec) -> dict[str, Any]:
    rows = {
        "type": "object",
        "required": ["requests"],
        "properties": {"requests": {"type": "array", "items": {"type": "object"}}},
    }
    op = token_page(
        json_answer(rows, "The latest ledger rows, newest first"),
        {
            "400": json_answer(ref("EmuError"), f"limit is not a whole number from 1 to {MAX_LIMIT}"),
            "503": json_answer(ref("EmuError"), NO_LEDGER),
        },
    )
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}
    op["parameters"].append(query("limit", limit, "How many rows"))
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
    return {"responses": {"200": json_answer(body, "The server is alive")}}


def _ready(spec: Spec) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["status", "models"],
        "properties": {"status": {"enum": ["ready", "loading"]}, "models": {"type": "object"}},
    }
    return token_page(
        json_answer(body, "Every preloaded model is loaded"), {"503": json_answer(body, "Models still loading")}
    )


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


def _faults_post(spec: Spec) -> dict[str, Any]:
    op = token_page(
        json_answer(FAULTS, "The fault rules now in force"),
        {"400": json_answer(ref("EmuError"), "The body is not a list of valid fault rules")},
    )
    op["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": FAULTS, "examples": {"clear": {"value": {"faults": []}}}}},
    }
    return op


def _static(spec: Spec) -> dict[str, Any]:
    return {
        "parameters": [path_param("path", "A file of the dashboard (script, style)")],
        "responses": {"200": {"description": "The file"}, "404": {"description": "No such file"}},
    }


OPENAPI = Section(
    "emulator",
    f"The emulator's own pages ({PREFIX})",
    {
        (f"{PREFIX}/costs", "GET"): Operation("The cost report", _costs),
        (f"{PREFIX}/requests", "GET"): Operation("The latest requests", _requests),
        (f"{PREFIX}/health", "GET"): Operation("Liveness (never needs the token)", _health, secured=False),
        (f"{PREFIX}/ready", "GET"): Operation("Readiness: the preloaded models are loaded", _ready),
        (f"{PREFIX}/faults", "GET"): Operation(
            "The fault rules in force", fixed(token_page(json_answer(FAULTS, "The fault rules in force")))
        ),
        (f"{PREFIX}/faults", "POST"): Operation("Replace the fault rules", _faults_post),
        (f"{PREFIX}/faults", "DELETE"): Operation(
            "Clear the fault rules", fixed(token_page(json_answer(FAULTS, "No fault rules are in force any more")))
        ),
        (f"{PREFIX}/dashboard", "GET"): Operation(
            "The cost dashboard", fixed(token_page(text_answer("text/html", "The dashboard page")))
        ),
        (f"{PREFIX}/metrics", "GET"): Operation(
            "Prometheus metrics", fixed(token_page(text_answer("text/plain", "Prometheus' text exposition format")))
        ),
        (f"{PREFIX}/static/{{path}}", "GET"): Operation("The dashboard's files", _static, secured=False),
    },
    {"EmuError": EMU_ERROR},
)
