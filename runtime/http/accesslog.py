"""The request log's ASGI middleware: one log line per HTTP request (runtime/requestlog.py formats it and holds
the per-request list of AI calls, which the inference service fills without knowing about HTTP)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..requestlog import AI_CALLS, AiCall, format_line

log = logging.getLogger("workers-ai-emu.requests")


class RequestLog:
    """ASGI middleware (pure ASGI, so the per-request context reaches the Worker and its binding)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        calls: list[AiCall] = []
        token = AI_CALLS.set(calls)
        started = time.perf_counter()
        status: int | None = None
        sent_at: float | None = None

        async def send_logged(message: Message) -> None:
            nonlocal status, sent_at
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                sent_at = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            AI_CALLS.reset(token)
            path = scope.get("path", "")  # never the query string: it may carry tokens
            ms = ((sent_at or time.perf_counter()) - started) * 1000
            log.info(format_line(scope.get("method", "?"), path, status, ms, calls))
