"""One log line per request: method, path, status, time, and each AI call it made (model, time, cost)."""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("workers-ai-emu.requests")


@dataclass
class AiCall:
    """One inference made while serving a request (by any door), for the request's log line."""

    model: str
    ms: float
    cost: Decimal
    error: int | None = None
    weights: str | None = None  # "real" or "stand-in:<name>"; None when no model ran


# Set by RequestLog for the duration of one HTTP request; the inference service appends to it.
AI_CALLS: ContextVar[list[AiCall] | None] = ContextVar("ai_calls", default=None)


def note_ai_call(model: str, ms: float, cost: Decimal, error: int | None = None, weights: str | None = None) -> None:
    """Called once per inference by the service's metering step; a no-op outside a logged request."""
    calls = AI_CALLS.get()
    if calls is not None:
        calls.append(AiCall(model, ms, cost, error, weights))


def weights_used() -> str | None:
    """The weights that answered the current request's AI calls ("real", "stand-in:<name>", comma-joined when
    they differ), for the Worker door's x-emu-weights header; None when no model ran."""
    calls = AI_CALLS.get() or []
    seen = list(dict.fromkeys(c.weights for c in calls if c.weights))
    return ",".join(seen) or None


def format_line(method: str, path: str, status: int | None, ms: float, calls: list[AiCall]) -> str:
    line = f"{method} {path} {status if status is not None else '---'} {ms:.0f} ms"
    for call in calls:
        standin = f" [{call.weights}]" if call.weights and call.weights.startswith("stand-in:") else ""
        if call.error is None:
            line += f" · AI {call.model}{standin} {call.ms:.0f} ms ${call.cost}"
        else:
            line += f" · AI {call.model}{standin} {call.ms:.0f} ms error {call.error}"
    return line


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
