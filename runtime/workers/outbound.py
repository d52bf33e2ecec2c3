"""`from workers import fetch`: outgoing HTTP from Worker code, through httpx.

Works offline for loopback addresses (the emulator's own routes included: `await fetch("http://127.0.0.1:8787/")`).
"""

from __future__ import annotations

from typing import Any

from .abort import AbortSignal
from .web import Headers, Request, Response


async def fetch(resource: str | Request, **options: Any) -> Response:
    """`await fetch(url_or_request, method=, headers=, body=, signal=)`: the answer as a workers Response.

    A network failure raises OSError, as Cloudflare's SDK does; a `signal` that fires first ends the request
    with its AbortError/TimeoutError (a JsException)."""
    import httpx

    if isinstance(resource, Request):
        url, method = resource.url, resource.method
        headers: Any = list(resource.headers.items())
        body: Any = resource.body
    else:
        url, method, headers, body = str(resource), "GET", None, None
    method = str(getattr(options.get("method"), "value", options.get("method")) or method).upper()
    if options.get("headers") is not None:
        given = options["headers"]
        headers = list(given.items()) if hasattr(given, "items") else list(given)
    if options.get("body") is not None:
        body = options["body"]
        if isinstance(body, str):
            body = body.encode("utf-8")
    signal = options.get("signal")
    if signal is not None and not isinstance(signal, AbortSignal):
        raise TypeError("fetch(): signal must be an AbortSignal (from js import AbortSignal)")
    try:
        async with httpx.AsyncClient(follow_redirects=options.get("redirect", "follow") == "follow") as client:
            call = client.request(method, url, headers=headers, content=body)
            answer = await (signal.guard(call) if signal is not None else call)
    except httpx.HTTPError as e:
        raise OSError(f"fetch {url}: {e}") from None
    out = Response(answer.content, status=answer.status_code, headers=Headers(answer.headers.multi_items()))
    out.url = str(answer.url)  # type: ignore[attr-defined]
    return out
