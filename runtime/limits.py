"""The Worker's CPU limit: how long one request's handler may hold the event loop, as Cloudflare limits CPU time.

Cloudflare ends a Worker invocation that uses more CPU time than `[limits] cpu_ms` (30,000 ms unless set; at most
300,000) with error 1102, "Worker exceeded resource limits". Here the Worker runs in the emulator's own event
loop, so the time a request's handler runs without yielding (between its awaits) is the time every other request
waits: that is what is counted, summed over the request's steps.

- A handler whose steps add up to more than the limit gets `CpuLimitExceeded` thrown into it at its next await;
  the door answers 503 with Cloudflare's 1102 text. The server keeps serving.
- A step that never yields (`while True: pass`) is interrupted by a watchdog thread, which raises the same
  exception inside it (CPython's asynchronous exceptions, delivered between bytecodes).
- A step blocked in C (`time.sleep(60)`, a long `numpy` call) cannot be interrupted: the server is unresponsive
  until it returns, and the request then fails with 1102. `os._exit` is refused inside a Worker request (it
  would end the emulator); nothing stops `os.kill(os.getpid(), 9)`. The Worker is not a sandbox: see SECURITY.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import os
import threading
import time
from collections.abc import Awaitable, Generator, Iterator
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

MAX_CPU_MS = 300_000
CPU_LIMIT_TEXT = "Worker exceeded resource limits"
WATCH_INTERVAL_S = 0.01

IN_WORKER: contextvars.ContextVar[bool] = contextvars.ContextVar("in_worker", default=False)


class CpuLimitExceeded(BaseException):
    """Thrown into a Worker that used up its CPU time. A BaseException, so a Worker's `except Exception` does
    not swallow it (Cloudflare ends the invocation outright)."""


class _Step:
    __slots__ = ("thread", "started", "used_before", "budget", "fired")

    def __init__(self, thread: int, used_before: float, budget: float) -> None:
        self.thread = thread
        self.started = time.perf_counter()
        self.used_before = used_before
        self.budget = budget
        self.fired = False


class _Watchdog:
    """One daemon thread per process: interrupts a step that has run past its request's remaining budget."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steps: set[_Step] = set()
        self.thread: threading.Thread | None = None

    def begin(self, step: _Step) -> None:
        with self.lock:
            self.steps.add(step)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="worker cpu watchdog", daemon=True)
                self.thread.start()

    def end(self, step: _Step) -> bool:
        """Forget the step; True if the watchdog fired at it (any undelivered exception is withdrawn)."""
        with self.lock:
            self.steps.discard(step)
            if step.fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(step.thread), None)
            return step.fired

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_INTERVAL_S)
            now = time.perf_counter()
            with self.lock:
                for step in self.steps:
                    if not step.fired and step.used_before + (now - step.started) > step.budget:
                        step.fired = True
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(step.thread), ctypes.py_object(CpuLimitExceeded)
                        )


WATCHDOG = _Watchdog()


class CpuMeter:
    """Drives one request's handler coroutine step by step, adding up the time its steps hold the loop.

    Time spent inside the emulator's own bindings (`env.AI.run`'s validation and bookkeeping) is not the Worker's:
    on Cloudflare it is a subrequest, not CPU time. The binding brackets itself with `not_counted()`.
    """

    def __init__(self, limit_ms: int) -> None:
        self.budget = limit_ms / 1000.0
        self.used = 0.0
        self.paused = False
        self.mark = 0.0  # when the current uncounted stretch began
        self.excluded = 0.0  # uncounted time within the current step

    def run(self, work: Awaitable[T]) -> Awaitable[T]:
        return _Metered(self, work)

    @contextlib.contextmanager
    def not_counted(self) -> Iterator[None]:
        if self.paused:  # nested: the outer bracket counts
            yield
            return
        self.paused, self.mark = True, time.perf_counter()
        try:
            yield
        finally:
            self.excluded += time.perf_counter() - self.mark
            self.paused = False

    def _step_started(self, at: float) -> None:
        self.excluded = 0.0
        if self.paused:
            self.mark = at

    def _step_ended(self, started: float) -> None:
        end = time.perf_counter()
        if self.paused:
            self.excluded += end - self.mark
        self.used += max(0.0, (end - started) - self.excluded)


CURRENT_METER: contextvars.ContextVar[CpuMeter | None] = contextvars.ContextVar("cpu_meter", default=None)


@contextlib.contextmanager
def not_counted() -> Iterator[None]:
    """Bracket emulator work done on a Worker's behalf (a binding call) so it is not the Worker's CPU time."""
    meter = CURRENT_METER.get()
    if meter is None:
        yield
        return
    with meter.not_counted():
        yield


class _Metered(Awaitable[T]):
    def __init__(self, meter: CpuMeter, work: Awaitable[T]) -> None:
        self.meter = meter
        self.work = work

    def __await__(self) -> Generator[Any, Any, T]:
        meter = self.meter
        CURRENT_METER.set(meter)  # in the awaiting task's context: the handler and its binding calls see it
        inner = self.work.__await__()
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            step = _Step(threading.get_ident(), meter.used, meter.budget)
            meter._step_started(step.started)
            WATCHDOG.begin(step)
            token = IN_WORKER.set(True)
            try:
                try:
                    if to_throw is not None:
                        yielded = inner.throw(to_throw)
                    else:
                        yielded = inner.send(to_send)
                finally:
                    IN_WORKER.reset(token)
                    fired = WATCHDOG.end(step)
                    meter._step_ended(step.started)
            except StopIteration as done:
                if fired or meter.used > meter.budget:
                    raise CpuLimitExceeded(CPU_LIMIT_TEXT) from None
                return done.value
            except CpuLimitExceeded:
                inner.close()
                raise CpuLimitExceeded(CPU_LIMIT_TEXT) from None
            if fired or meter.used > meter.budget:  # over the limit: end the handler at this await
                to_send, to_throw = None, CpuLimitExceeded(CPU_LIMIT_TEXT)
                continue
            try:
                to_send, to_throw = (yield yielded), None
            except BaseException as e:  # noqa: BLE001 - cancellation and the like go on into the handler
                to_send, to_throw = None, e


_real_exit = os._exit


def _guarded_exit(status: int) -> NoReturn:
    if IN_WORKER.get():
        raise SystemExit(f"os._exit({status}) called by the Worker: refused, it would end the emulator")
    _real_exit(status)


def guard_process_exit() -> None:
    """Make `os._exit` inside a Worker request raise instead of ending the emulator's process."""
    os._exit = _guarded_exit
