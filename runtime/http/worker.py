"""The Worker door: every path no API claims goes to the user's Worker, as on `wrangler dev`.

A thin adapter: starlette request -> workers.Request -> WorkerHost.fetch -> workers.Response -> starlette response.
Worker failures become a 500 with the traceback (plain text for API clients, a page for browsers); the server
keeps serving.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from starlette.background import BackgroundTask
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Route

from ..bindings.base import CURRENT_ROUTE
from ..errors import RequestTooLarge
from ..host import NotAResponse, WorkerLoadError, user_traceback
from ..limits import CPU_LIMIT_TEXT, CpuLimitExceeded, CpuMeter
from ..requestlog import weights_used
from ..workers import Context, Request, Response
from ..workers.entrypoint import CURRENT_CONTEXT
from ..workers.streams import ReadableStream
from .openapi_builder import ANY, Operation, Section, Spec, path_param
from .wire import context, read_body

if TYPE_CHECKING:
    from .context import AppContext

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

NO_WORKER = (
    "No Worker is configured, so only the emulator's APIs are served here.\n"
    "To run a Worker, set `main` in wrangler-like.toml, e.g.\n\n"
    '    main = "worker/entry.py"\n\n'
    "The Cloudflare REST API is at /client/v4/accounts/<id>/ai/run/<model>, the Hugging Face Inference API at "
    "/hf-inference/models/<id>, and the dashboard at /cdn-cgi/emu/dashboard.\n"
)


def wants_html(request: StarletteRequest) -> bool:
    """Browsers ask for text/html first; API clients (curl, httpx, SDKs) do not."""
    first = request.headers.get("accept", "").split(",")[0].split(";")[0].strip().lower()
    return first in ("text/html", "application/xhtml+xml")


def error_response(request: StarletteRequest, title: str, details: str, status: int = 500) -> StarletteResponse:
    if wants_html(request):
        page = ERROR_PAGE.format(
            title=html.escape(title), details=html.escape(details), path=html.escape(request.url.path)
        )
        return StarletteResponse(page, status_code=status, media_type="text/html; charset=utf-8")
    return PlainTextResponse(f"{title}\n\n{details}", status_code=status)


async def no_worker(request: StarletteRequest) -> StarletteResponse:
    return PlainTextResponse(NO_WORKER, status_code=404)


async def serve(request: StarletteRequest) -> StarletteResponse:
    """Every path no API claims: the Worker's fetch handler, as on `wrangler dev`."""
    ctx = context(request)
    host = ctx.host
    if host is None:
        return await no_worker(request)
    limit = ctx.settings.emulator.max_body_bytes
    try:
        body = await read_body(request, limit)
    except RequestTooLarge:
        return PlainTextResponse(
            f"Request body is larger than the limit of {limit} bytes ([emulator] max_body_bytes)\n", status_code=413
        )
    worker_request = Request(str(request.url), request.method, list(request.headers.items()), body)
    worker_request.cf = local_cf(request)
    wctx = Context()
    token = CURRENT_ROUTE.set(request.url.path)
    ctx_token = CURRENT_CONTEXT.set(wctx)  # `from workers import wait_until`
    try:
        response = await CpuMeter(ctx.settings.cpu_ms).run(host.fetch(worker_request, wctx))
    except CpuLimitExceeded:
        wctx.close()
        _log_exception(request, f"{CPU_LIMIT_TEXT}: over [limits] cpu_ms = {ctx.settings.cpu_ms}\n")
        return error_response(
            request,
            f"Error 1102: {CPU_LIMIT_TEXT}",
            f"The Worker held the event loop for more than its CPU limit of {ctx.settings.cpu_ms} ms "
            "([limits] cpu_ms) while serving this request; Cloudflare ends such an invocation the same way.\n",
            status=503,
        )
    except SystemExit as e:
        wctx.close()
        details = user_traceback(e)
        _log_exception(request, details)
        return error_response(request, f"The Worker called sys.exit ({e}); the emulator keeps serving", details)
    except WorkerLoadError as e:
        wctx.close()
        return error_response(request, str(e), e.details)
    except NotAResponse as e:
        wctx.close()
        return error_response(request, "The Worker did not return a Response", str(e) + "\n")
    except Exception as e:  # noqa: BLE001 - the Worker's own bug: report it, keep serving
        wctx.close()
        details = user_traceback(e)
        _log_exception(request, details)
        return error_response(request, f"Uncaught exception in the Worker: {type(e).__name__}: {e}", details)
    finally:
        CURRENT_CONTEXT.reset(ctx_token)
        CURRENT_ROUTE.reset(token)
    background = BackgroundTask(_drain, wctx, request.url.path) if wctx.pending else None
    out = _convert(response, request, background)
    weights = weights_used()  # which weights answered this request's env.AI.run calls, if any ran
    if weights and "x-emu-weights" not in out.headers:
        out.headers["x-emu-weights"] = weights
    return out


def local_cf(request: StarletteRequest) -> dict[str, Any]:
    """`request.cf` as wrangler's local mode fills it: a plausible fixed location (no geolocation offline), with
    what this request really says about its protocol and encodings."""
    version = request.scope.get("http_version", "1.1")
    return {
        "colo": "LOCAL",
        "country": "US",
        "continent": "NA",
        "city": "Austin",
        "region": "Texas",
        "regionCode": "TX",
        "postalCode": "78701",
        "metroCode": "635",
        "timezone": "America/Chicago",
        "latitude": "30.27130",
        "longitude": "-97.74260",
        "asn": 0,
        "asOrganization": "workers-ai-emu (local)",
        "httpProtocol": f"HTTP/{version}",
        "clientTcpRtt": 0,
        "clientAcceptEncoding": request.headers.get("accept-encoding", ""),
        "requestPriority": "",
        "edgeRequestKeepAliveStatus": 1,
        "tlsVersion": "",  # the local server speaks plain HTTP
        "tlsCipher": "",
        "verifiedBotCategory": "",
    }


ROUTES: list[BaseRoute] = [Route("/{path:path}", serve, methods=METHODS, name="worker")]


def _describe(spec: Spec) -> dict[str, Any]:
    return {
        "parameters": [path_param("path", "Any path no API claims")],
        "responses": {
            "default": {"description": "What the Worker's fetch handler answers; 404 text when no Worker is set"}
        },
    }


OPENAPI = Section(  # collected by runtime/http/openapi.py; the Worker needs no token
    "worker",
    "The user's Worker",
    {("/{path}", m): Operation("The Worker (every path no API claims)", _describe, secured=False) for m in ANY},
)


def routes(ctx: AppContext) -> list[BaseRoute]:
    return ROUTES


def _convert(response: Response, request: StarletteRequest, background: BackgroundTask | None) -> StarletteResponse:
    body = response.body
    if isinstance(body, ReadableStream):  # a streamed body (e.g. env.AI.run's stream) goes out as it arrives
        if request.method == "HEAD":
            body = b""
        else:
            streamed = StreamingResponse(body, status_code=response.status, background=background)
            streamed.raw_headers = [(k, v) for k, v in response.headers.raw() if k != b"content-length"]
            return streamed
    out = StarletteResponse(
        b"" if request.method == "HEAD" else body, status_code=response.status, background=background
    )
    # starlette set content-length (and nothing else) for the body; the Worker's headers come on top.
    out.raw_headers = [(k, v) for k, v in out.raw_headers if k == b"content-length"]
    out.raw_headers += [(k, v) for k, v in response.headers.raw() if k != b"content-length"]
    return out


async def _drain(wctx: Context, path: str) -> None:
    token = CURRENT_ROUTE.set(path)
    try:
        await wctx.drain()
    finally:
        CURRENT_ROUTE.reset(token)


def _log_exception(request: StarletteRequest, details: str) -> None:
    import logging

    logging.getLogger("workers-ai-emu").error(
        "%s %s raised in the Worker:\n%s", request.method, request.url.path, details.rstrip()
    )


ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Worker error</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #fafafa; color: #222; }}
header {{ background: #b3261e; color: #fff; padding: 18px 28px; }}
header h1 {{ margin: 0; font-size: 19px; font-weight: 600; }}
header p {{ margin: 4px 0 0; opacity: .85; font-size: 13px; }}
main {{ padding: 20px 28px; }}
pre {{ background: #fff; border: 1px solid #ddd; border-left: 4px solid #b3261e; padding: 14px 16px;
       overflow-x: auto; font: 13px/1.45 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap; }}
footer {{ color: #666; font-size: 13px; padding: 0 28px 24px; }}
</style></head>
<body><header><h1>{title}</h1><p>while serving {path} · workers-ai-emu dev</p></header>
<main><pre>{details}</pre></main>
<footer>The server keeps running: fix the Worker and save; it reloads on its own. Then refresh this page.</footer>
</body></html>
"""
