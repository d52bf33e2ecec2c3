"""One accepted request on its way through the service (runtime/service.py): its events, then its `Outcome`.

A run is a stream of events; a plain answer is the fold of that stream, and a plain task's stream is its one
result. The ledger row is written as the stream ends, however it ends: normally, with an error, or because the
reader went away (billed for the events it got).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from .entry import ModelEntry
from .errors import CAPACITY_TEXT, EmuError, OutOfCapacity, RequestAborted
from .gateway import GatewayCache
from .inference.model import LoadedModel
from .inference.session import InferenceSlots
from .runs import Caller, Outcome, ResultCache
from .streaming import events_in_slot
from .tasks import Task, TaskInput


class Service(Protocol):
    """What a run needs of the service that made it."""

    settings: Any
    slots: InferenceSlots
    cache: ResultCache
    gateway_cache: GatewayCache

    async def _infer(
        self, entry: ModelEntry, loaded: LoadedModel, data: Any, params: dict[str, Any], limit: int | float
    ) -> Any: ...

    def _meter(
        self,
        caller: Caller,
        model: str,
        entry: ModelEntry | None,
        started: float,
        outcome: str,
        weights: str | None = None,
        usage: Mapping[str, int] | None = None,
        billed: bool = True,
    ) -> Awaitable[Decimal]: ...

    def detach(self, work: Any) -> asyncio.Task[Any]: ...


class Run:
    """One accepted request: its events (read once, by a door that streams, or folded by `outcome`), then its
    `Outcome`. Everything that can be refused before inference was checked when the run was made."""

    def __init__(
        self,
        service: Service,
        caller: Caller,
        entry: ModelEntry,
        task: Task,
        loaded: LoadedModel,
        read: TaskInput,
        params: dict[str, Any],
        started: float,
        cached: Any,
        keys: tuple[bytes | None, bytes | None],
    ) -> None:
        self.service, self.caller, self.entry, self.task = service, caller, entry, task
        self.loaded, self.read, self.params, self.started = loaded, read, params, started
        self._cached, self._keys = cached, keys
        self.streaming = cached is None and task.streams(params)
        self.events_so_far: list[Any] = []
        self._outcome: Outcome | None = None
        self._read = False

    @property
    def request_id(self) -> str:
        return self.caller.request_id

    @property
    def weights(self) -> str:
        return self.loaded.weights

    async def _produce(self) -> AsyncGenerator[Any, None]:
        s, loaded, params = self.service, self.loaded, self.params
        if self._cached is not None:
            yield self._cached
            return
        if self.caller.options.reject_if_busy and s.slots.pending >= s.slots.concurrency:
            raise OutOfCapacity(CAPACITY_TEXT)
        limit = self.task.limit(s.settings)
        if not self.task.streamable:  # one result, made in a slot (batched where the model allows)
            fresh = await s._infer(self.entry, loaded, self.read.data, params, limit)
            key, gw_key = self._keys
            if key is not None:
                s.cache.put(key, fresh)
            gw = self.caller.gateway
            if gw_key is not None and gw is not None and gw.cache_ttl:
                s.gateway_cache.put(gw_key, fresh, gw.cache_ttl)
            yield fresh
            return
        data = self.read.data
        async for event in events_in_slot(
            s.slots, lambda prepared: self.task.stream(loaded, prepared, params), lambda: loaded.prepare(data, limit)
        ):
            yield event

    async def events(self) -> AsyncIterator[Any]:
        """The task's events as they come; the ledger row is written when they end, also when the reader stops
        early (a client that went away is billed for the events it got)."""
        if self._read:
            raise RuntimeError("a run's events can be read only once")
        self._read = True
        s, caller = self.service, self.caller
        produced = self._produce()
        try:
            async for event in produced:
                self.events_so_far.append(event)
                yield event
        except EmuError as e:
            await s._meter(caller, self.entry.name, self.entry, self.started, e.outcome, weights=self.weights)
            e.metered = True
            raise
        except Exception as e:  # noqa: BLE001 - recorded, then surfaced as an internal error
            await s._meter(caller, self.entry.name, self.entry, self.started, "error:3043", weights=self.weights)
            error = EmuError(f"internal error: {type(e).__name__}: {e}")
            error.metered = True
            raise error from e
        except BaseException:  # the reader gave up (a Worker's timeout or CPU limit, a closed connection)
            got = (
                self.task.usage(self.task.fold(self.events_so_far))
                if self.task.streamable and self.events_so_far
                else None
            )
            label = RequestAborted.outcome_label()
            meter = s._meter(caller, self.entry.name, self.entry, self.started, label, weights=self.weights, usage=got)
            await asyncio.shield(s.detach(meter))  # written even when this task is cancelled again meanwhile
            raise
        finally:
            await produced.aclose()
        value = self.task.fold(self.events_so_far)
        cached = self._cached is not None
        usage = self.task.usage(value)
        cost = await s._meter(
            caller,
            self.entry.name,
            self.entry,
            self.started,
            "ok",
            weights=self.weights,
            usage=usage,
            billed=not cached,
        )
        self._outcome = Outcome(
            result=self.task.answer(value),
            model=self.entry,
            request_id=caller.request_id,
            cost=cost,
            cached=cached,
            compute_time_s=time.perf_counter() - self.started,
            weights=self.weights,
            gateway_cache=None if caller.gateway is None else ("HIT" if cached else "MISS"),
            value=value,
            usage=usage,
        )

    async def sse(self) -> AsyncIterator[bytes]:
        """The events as the task's server-sent events, then its end marker; an error raises (EmuError), and each
        door renders it in its own shape."""
        async for event in self.events():
            yield self.task.sse_event(event)
        yield self.task.sse_end()

    async def outcome(self) -> Outcome:
        """The plain answer: the fold of the events (read here, unless a door read them)."""
        if not self._read:
            async for _ in self.events():
                pass
        if self._outcome is None:
            raise RuntimeError("the run's events did not end")
        return self._outcome
