"""What both API doors share: JSON responses, bounded body reading, bearer-token checks, the x-emu-* headers.

Kept protocol-neutral on purpose: the Cloudflare and Hugging Face doors differ only in their envelopes.
"""

from __future__ import annotations

import asyncio
import hmac
from decimal import Decimal
from typing import Any, Awaitable, Callable, Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..errors import AuthenticationError, BadInput, EmuError, RequestTooLarge
from ..service import Caller, InferenceService, new_request_id

Handler = Callable[[Request, str], Awaitable[Response]]
ErrorResponse = Callable[[EmuError, str], Response]

JSON_OFF_LOOP_BYTES = 256 * 1024  # parse bigger JSON bodies on a thread so the event loop keeps serving


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    headers=dict(headers or {}), media_type="application/json")


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


def check_token(request: Request, token: str | None) -> None:
    """When an api_token is configured, require `Authorization: Bearer <token>` (constant-time compare)."""
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
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


def guarded(handler: Handler, service: InferenceService, error_response: ErrorResponse,
            source: str | None = None, model_param: str = "model") -> Callable[[Request], Awaitable[Response]]:
    """A route endpoint with the shared door duties: request id, token check, errors in the door's format.

    For inference routes (`source` given), a refusal raised before the service ran (bad token, oversized or
    unparsable body) is still metered through the service, so every inference request leaves a ledger row.
    """

    async def endpoint(request: Request) -> Response:
        request_id = new_request_id()
        try:
            check_token(request, service.settings.api_token)
            return await handler(request, request_id)
        except EmuError as e:
            error = e
        except Exception as e:  # noqa: BLE001 - the door's error format, never a bare 500 page
            error = EmuError(f"internal error: {type(e).__name__}")
        if source is not None and not error.metered:
            model = str(request.path_params.get(model_param, "")).strip("/")
            await service.record_rejection(model, error, Caller(source=source, route=request.url.path,
                                                                request_id=request_id))
        return error_response(error, request_id)

    return endpoint
