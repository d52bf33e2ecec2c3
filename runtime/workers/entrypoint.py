"""WorkerEntrypoint and the execution context, as Cloudflare's Python Workers define them."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
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
