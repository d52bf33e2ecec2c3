"""What both API doors share: JSON responses, bounded body reading, bearer-token checks, the x-emu-* headers.

Kept protocol-neutral on purpose: the Cloudflare and Hugging Face doors differ only in their envelopes.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute

from ..errors import AuthenticationError, BadInput, EmuError, RequestTooLarge
from ..runs import Caller, new_request_id

if TYPE_CHECKING:
    from ..service import Run
    from .context import AppContext

ErrorResponse = Callable[[EmuError, str], Response]


class AnyPath(PathConvertor):
    """starlette's `{x:path}` (and every Mount) matches `.*`, which stops at a newline: a request for
    `/client/v4/accounts/a/ai/run/x%0A` matched no door and got starlette's bare 404, unmetered. Every path
    parameter here matches any characters, so such a request reaches its door and gets that door's coded error."""

    regex = r"[\s\S]*"


# Registered before any route of the doors is compiled (each door module imports this one first).
register_url_convertor("path", AnyPath())

JSON_OFF_LOOP_BYTES = 256 * 1024  # parse bigger JSON bodies on a thread so the event loop keeps serving


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def cost_header(cost: Decimal | None) -> str:
    """A plain decimal string (never exponent notation), "0" for nothing billed."""
    if not cost:
        return "0"
    return format(cost, "f")


def emu_headers(request_id: str, cost: Decimal | None = None, weights: str | None = None) -> dict[str, str]:
    """The headers the metering side and users rely on, on every answer (success or error).

    `x-emu-weights` says which weights answered: "real", or "stand-in:<name>" for a bundled stand-in.
    """
    headers = {"x-emu-request-id": request_id, "x-emu-cost-usd": cost_header(cost)}
    if weights:
        headers["x-emu-weights"] = weights
    return headers


def event_stream(run: Run, headers: Mapping[str, str], error_body: Callable[[EmuError], Any]) -> StreamingResponse:
    """A streamed run as server-sent events (`data: {...}` each, then `data: [DONE]`); an error that ends the
    stream early comes as a last `event: error` carrying the door's own error body."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in run.sse():
                yield chunk
        except EmuError as e:
            yield b"event: error\ndata: " + orjson.dumps(error_body(e)) + b"\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"})


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (before reading it all) anything longer than `limit` bytes."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise BadInput(f"Content-Length {length!r} is not a number") from None
        if declared > limit:
            raise RequestTooLarge(f"Request is too large: {declared} bytes (limit {limit} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"Request is too large: more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def is_json(request: Request, body: bytes) -> bool:
    """JSON by content type; otherwise (no type, or curl -d's form type) a body that opens like an object.

    No image format starts with `{`, so the sniff cannot mistake an image for JSON; an explicit image/* or
    octet-stream type is always taken at its word.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return True
    if kind.startswith("image/") or kind == "application/octet-stream":
        return False
    return body.lstrip()[:1] == b"{"


async def parse_json(body: bytes) -> Any:
    """The decoded JSON body; BadInput (never a 500) when it is not JSON."""
    try:
        if len(body) > JSON_OFF_LOOP_BYTES:
            return await asyncio.to_thread(orjson.loads, body)
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadInput(f"request body is not valid JSON: {e}") from None


def check_token(request: Request, token: str | None, allow_query: bool = False) -> None:
    """When an api_token is configured, require `Authorization: Bearer <token>` (constant-time compare).

    `allow_query`: a `?token=` query parameter is accepted too (the dashboard page a browser opens); the request
    log never shows query strings."""
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return
    query = request.query_params.get("token") if allow_query else None
    if query is not None and hmac.compare_digest(query.encode(), token.encode()):
        return
    raise AuthenticationError("Authentication error")


def flag(value: Any, name: str) -> bool:
    """A boolean from a header string or a JSON value; BadInput naming `name` otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "true", "yes", "on"):
            return True
        if v in ("0", "false", "no", "off"):
            return False
    raise BadInput(f"{name} must be true or false, not {value!r}")


def context(request: Request) -> AppContext:
    """The app's context (settings, the one service, the Worker host), from the door's app state."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def begin(request: Request) -> AppContext:
    """What every API endpoint does first: give the request its id, check the bearer token."""
    ctx = context(request)
    request.state.request_id = new_request_id()
    check_token(request, ctx.service.settings.api_token)
    return ctx


def request_id_of(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = new_request_id()
    return str(rid)


def door(
    ctx: AppContext,
    routes: Sequence[BaseRoute],
    render: ErrorResponse,
    source: str,
    model_param: str,
    model_name: Callable[[str], str] = lambda model: model,
) -> Starlette:
    """One API door as its own small starlette app: its routes, and its errors rendered in its wire format by
    exception handlers (typed EmuErrors, and anything unexpected as 3043 internal error, never a bare 500 page).

    A refusal raised before the service ran (bad token, oversized or unparsable body, unknown model) on an
    inference route (one with the `model_param` path parameter) is still metered through the service, so every
    inference request leaves a ledger row (under the Workers AI name `model_name` gives for the path's model).
    """

    async def on_error(request: Request, error: Exception) -> Response:
        if not isinstance(error, EmuError):
            error = EmuError(f"internal error: {type(error).__name__}")
        request_id = request_id_of(request)
        model = request.path_params.get(model_param)
        if model is not None and not error.metered:
            await ctx.service.record_rejection(
                model_name(str(model).strip("/")),
                error,
                Caller(source=source, route=request.url.path, request_id=request_id),
            )
        return render(error, request_id)

    app = Starlette(
        routes=list(routes),
        exception_handlers={EmuError: on_error},
        middleware=[Middleware(InternalErrors, on_error=on_error)],
    )
    app.state.ctx = ctx
    return app


class InternalErrors:
    """Pure ASGI: an unexpected exception in a door becomes that door's 3043 answer (starlette's own
    handler for Exception would answer and then re-raise)."""

    def __init__(self, app: Any, on_error: Callable[[Request, Exception], Awaitable[Response]]) -> None:
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as e:  # noqa: BLE001 - the door's error format, never a bare 500 page
            if started or scope["type"] != "http":
                raise
            response = await self.on_error(Request(scope, receive), e)
            await response(scope, receive, send)
