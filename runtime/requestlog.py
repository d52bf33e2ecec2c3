"""One log line per request: method, path, status, time, and each AI call it made (model, time, cost).

Free of any HTTP library (the inference service imports it): the ASGI middleware that sets the per-request list
and writes the line is runtime/http/accesslog.py."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal


@dataclass
class AiCall:
    """One inference made while serving a request (by any door), for the request's log line."""

    model: str
    ms: float
    cost: Decimal
    error: int | None = None
    weights: str | None = None  # "real" or "stand-in:<name>"; None when no model ran


# Set by RequestLog (runtime/http/accesslog.py) for the duration of one HTTP request; the inference service appends to it.
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
