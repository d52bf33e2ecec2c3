"""`AbortController` and `AbortSignal` (`from js import AbortController, AbortSignal`), for the `signal` option
of `env.AI.run` and `fetch`: a signal aborted before or during a call ends it with the JavaScript error the
platform raises ("AbortError: The operation was aborted.", or "TimeoutError: ..." for `AbortSignal.timeout`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .errors import JsException

T = TypeVar("T")
ABORT_MESSAGE = "The operation was aborted."
TIMEOUT_MESSAGE = "The operation was aborted due to timeout"


class AbortSignal:
    def __init__(self) -> None:
        self._reason: JsException | None = None
        self._deadline: float | None = None  # AbortSignal.timeout: aborted once this monotonic time passes
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    def timeout(cls, ms: float) -> AbortSignal:
        signal = cls()
        signal._deadline = time.monotonic() + max(float(ms), 0.0) / 1000.0
        return signal

    @classmethod
    def abort(cls, reason: Any = None) -> AbortSignal:
        signal = cls()
        signal._set(reason)
        return signal

    @property
    def aborted(self) -> bool:
        if self._reason is None and self._deadline is not None and time.monotonic() >= self._deadline:
            self._reason = JsException("TimeoutError", TIMEOUT_MESSAGE)
        return self._reason is not None

    @property
    def reason(self) -> JsException | None:
        return self._reason if self.aborted else None

    def throwIfAborted(self) -> None:  # noqa: N802 - the platform's name
        if self.aborted:
            assert self._reason is not None
            raise self._reason

    def _set(self, reason: Any) -> None:
        if self._reason is not None:
            return
        if isinstance(reason, JsException):
            self._reason = reason
        else:
            self._reason = JsException("AbortError", ABORT_MESSAGE if reason is None else str(reason))
        for listener in self._listeners:
            listener()

    async def guard(self, work: Awaitable[T]) -> T:
        """Await `work`, cancelling it and raising the abort reason if the signal fires first."""
        self.throwIfAborted()
        task = asyncio.ensure_future(work)
        fired = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fired.done():
                fired.set_result(None)

        self._listeners.append(wake)
        timeout = None if self._deadline is None else max(self._deadline - time.monotonic(), 0.0)
        try:
            await asyncio.wait({task, fired}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._listeners.remove(wake)
        if task.done():
            return task.result()
        task.cancel()  # the service records the cancelled call as aborted (3008) in the ledger
        await asyncio.gather(task, return_exceptions=True)
        self.throwIfAborted()
        raise JsException("AbortError", ABORT_MESSAGE)  # pragma: no cover - only if woken without a reason


class AbortController:
    def __init__(self) -> None:
        self.signal = AbortSignal()

    @classmethod
    def new(cls) -> AbortController:
        return cls()

    def abort(self, reason: Any = None) -> None:
        self.signal._set(reason)
