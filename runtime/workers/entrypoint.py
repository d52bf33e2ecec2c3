"""WorkerEntrypoint and the execution context, as Cloudflare's Python Workers define them."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

log = logging.getLogger("workers-ai-emu.worker")


class Context:
    """`ctx`: `waitUntil(coro)` work runs after the response has been sent, like on Cloudflare."""

    def __init__(self) -> None:
        self._pending: list[Awaitable[Any]] = []

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:  # noqa: N802 - Cloudflare's name
        if not inspect.isawaitable(awaitable):
            raise TypeError(f"waitUntil() needs a coroutine or awaitable, not {type(awaitable).__name__}")
        self._pending.append(awaitable)

    wait_until = waitUntil

    @property
    def pending(self) -> int:
        return len(self._pending)

    def passThroughOnException(self) -> None:  # noqa: N802 - Cloudflare's name
        """Nothing to pass through to locally; accepted so Worker code runs unchanged."""

    async def drain(self) -> None:
        """Run everything given to waitUntil (including work those tasks add); log failures."""
        while self._pending:
            awaitable = self._pending.pop(0)
            try:
                await awaitable
            except Exception:  # noqa: BLE001 - a background task's failure must not touch the response
                log.exception("a ctx.waitUntil() task raised")

    def close(self) -> None:
        """Close coroutines that will never run (the response failed before they were scheduled)."""
        for awaitable in self._pending:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
        self._pending.clear()


class WorkerEntrypoint:
    """Base class of a Worker's `Default` class: handlers are methods, with `self.env` and `self.ctx`."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


# The Worker's env (one Worker per emulator process) and the current request's ctx, for the module-level
# `workers.env` and `workers.wait_until` that Cloudflare's SDK offers.
WORKER_ENV: list[Any] = [None]
CURRENT_CONTEXT: ContextVar[Context | None] = ContextVar("workers_current_context", default=None)


def wait_until(awaitable: Awaitable[Any]) -> None:
    """`from workers import wait_until`: the current request's `ctx.waitUntil`."""
    ctx = CURRENT_CONTEXT.get()
    if ctx is None:
        raise RuntimeError("wait_until() is only available while the Worker handles a request")
    ctx.waitUntil(awaitable)


def handler(func: Callable[..., Any]) -> Callable[..., Any]:
    """`@handler` on `on_fetch`: on Cloudflare it turns JS arguments into this module's Python types; here they
    already are, so the handler is called as it is (its signature kept)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


class DurableObject:
    """Base class of a Durable Object. Subclasses load (so Worker modules that define one run), but the emulator
    has no Durable Object namespaces to bind them to: it emulates Workers AI, not Durable Objects."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    """Base class of a Workflow. Subclasses load; running Workflows is not emulated (no Workflows binding)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env
