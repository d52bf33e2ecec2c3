"""The one call path: every door (binding, Cloudflare REST, Hugging Face API, CLI) calls `InferenceService.run`
(or `start`, for an answer that may stream).

Validation, caching, budget, inference and metering happen here and nowhere else, so no door can forget to
bill or check. The service knows no task by name: it looks the model's task up (runtime/tasks/) and asks it to
read the input, to stream or fold its events, and to report its usage. Doors only translate wire formats and map
`EmuError`s to their own error shapes.

A run is a stream of events (`Run.events`); a plain answer is the fold of that stream (`Run.outcome`), and a
plain task's stream is its one result. The ledger row is written as the stream ends, however it ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson

from .catalog import Catalog
from .entry import ModelEntry
from .errors import (
    DAILY_ALLOCATION_TEXT,
    BudgetExceeded,
    EmuError,
    RequestAborted,
    RequestTooLarge,
)
from .faults import Faults, Rule
from .gateway import GatewayCache
from .inference.batching import Batcher
from .inference.model import LoadedModel
from .inference.pool import ModelPool
from .inference.session import InferenceSlots
from .inference.store import ModelStore
from .metering.backends import open_ledger
from .metering.ledger import Ledger, LedgerRecord
from .metering.metrics import Metrics
from .metering.neurons import Plan
from .metering.report import budget_status
from .metering.units import cost_of
from .money import ZERO
from .requestlog import note_ai_call
from .run import Run
from .runs import Caller, Outcome, ResultCache, new_request_id
from .settings import EmulatorSettings, Settings, instance_name
from .tasks import task_of

__all__ = ["Caller", "InferenceService", "Outcome", "Run", "new_request_id"]


class InferenceService:
    def __init__(
        self,
        catalog: Catalog,
        ledger: Ledger | None,
        settings: EmulatorSettings | None = None,
        store: ModelStore | None = None,
    ) -> None:
        self.settings = s = settings or EmulatorSettings()
        self.catalog = catalog
        self.ledger = ledger
        self.store = store or ModelStore(s.state_dir)
        self.pool = ModelPool(self.store, s.intra_op_threads, s.auto_pull, s.weights)
        self.slots = InferenceSlots(s.max_concurrent_inferences, s.max_queue, s.queue_timeout_s, s.prepare_threads)
        self._batch_lock = threading.Lock()
        self.cache = ResultCache(s.cache_size)
        self.gateway_cache = GatewayCache()
        self.metrics = Metrics(
            ledger, Plan.of(s), queue_depth=lambda: self.slots.pending, models_loaded=lambda: self.pool.loaded_count()
        )
        self.slots.on_wait = self.metrics.queue_seconds.observe
        self.faults = Faults([Rule.from_table(t) for t in s.faults])
        self.preloaded: dict[str, ModelEntry] = {}  # model name -> what answers for it (real or stand-in)
        self.instance = instance_name(s)  # written on every ledger row (a ledger may be shared by many)
        self._detached: set[asyncio.Task[Any]] = set()

    def preload(self, names: list[str]) -> None:
        """Load (in the background) what answers for each named model, so the first request does not wait."""
        for name in names:
            try:
                entry = self.catalog.get(name)
            except EmuError:
                continue
            self.preloaded[name] = self.pool.preload(entry)

    def readiness(self) -> tuple[bool, dict[str, dict[str, str]]]:
        """(all preloaded models loaded?, per model: which weights and their state)."""
        targets = list(self.preloaded.values())
        states = self.pool.readiness(targets)
        models = {
            name: {"weights": "real" if t.name == name else t.name, "state": states[t.name]}
            for name, t in self.preloaded.items()
        }
        return all(v == "loaded" for v in states.values()), models

    @classmethod
    def from_settings(cls, settings: Settings) -> InferenceService:
        where = str(settings.config_path) if settings.config_path else "config"
        catalog = settings.catalog or Catalog.load(settings.models, where=where)
        ledger = open_ledger(settings.ledger_target)
        # the service's own copy, with the state folder resolved against the config's folder
        return cls(catalog, ledger, replace(settings.emulator, state_dir=settings.state_dir))

    def _check_budget(self) -> None:
        status = self.budget_status()
        if status is not None and status["exceeded"]:
            # Cloudflare's 3036 text, as a Worker meets it there; the budget itself is in /cdn-cgi/emu/health
            raise BudgetExceeded(DAILY_ALLOCATION_TEXT)

    async def _infer(
        self, entry: ModelEntry, loaded: LoadedModel, data: Any, params: dict[str, Any], limit: int | float
    ) -> Any:
        """Prepare on the preparation threads, then infer in a slot: alone, or batched with the requests for the
        same model waiting beside it (inference/batching.py) where the model's `max_batch` allows."""
        batcher = self._batcher(entry, loaded)
        if batcher is None:
            return await self.slots.run(
                lambda prepared: loaded.infer(prepared, params), prepare=lambda: loaded.prepare(data, limit)
            )
        waiting: list[Future] = []

        def prepare() -> Future:
            future = batcher.add(loaded.prepare(data, limit), params)
            waiting.append(future)
            return future

        try:
            return await self.slots.run(batcher.run_until, prepare=prepare)
        except BaseException:
            for future in waiting:  # not computed yet: no batch needs to carry it any more
                future.cancel()
            raise

    def _batcher(self, entry: ModelEntry, loaded: LoadedModel) -> Batcher | None:
        if entry.max_batch <= 1 or not loaded.batchable:
            return None
        with self._batch_lock:
            if loaded.batcher is None:
                loaded.batcher = Batcher(loaded, entry.max_batch)
            return loaded.batcher

    def budget_status(self) -> dict[str, Any] | None:
        """Today's (UTC) spend against `budget_usd_per_day` (metering/report.py), None without a budget."""
        if self.ledger is None:
            return None
        return budget_status(self.ledger, self.settings.budget_usd_per_day)

    async def start(
        self, model: str, inputs: Any, params: Mapping[str, Any] | None = None, caller: Caller | None = None
    ) -> Run:
        """Check everything that can be checked before inference and return the run, whose events (or whose
        `outcome`) the door then reads. A refusal here is metered and raised."""
        caller = caller or Caller(source="binding")
        started = time.perf_counter()
        entry: ModelEntry | None = None
        weights: str | None = None
        try:
            entry = self.catalog.get(model)
            task = task_of(entry)
            caller.options.refuse_unsupported(entry.name)
            delay, fault = self.faults.take(entry.name, model, *([entry.hf_id] if entry.hf_id else []))
            if delay:
                await asyncio.sleep(delay)
            if fault is not None:
                raise fault
            if task.reads_off_loop(inputs):
                read = await asyncio.to_thread(task.read, inputs, entry)
            else:
                read = task.read(inputs, entry)
            if read.size > self.settings.max_body_bytes:
                raise RequestTooLarge(f"Request is larger than {self.settings.max_body_bytes} bytes")
            await asyncio.to_thread(self._check_budget)
            loaded = await self.pool.get(entry, wait=caller.wait_for_model, timeout=self.settings.model_wait_s)
            weights = loaded.weights
            checked = loaded.family.check_params({**entry.defaults, **read.params, **(params or {})}, entry.schema)
            cached = None
            key = gw_key = None
            if not task.streamable:
                key = ResultCache.key(entry.name, read.digest, checked) if caller.use_cache else None
                cached = self.cache.get(key) if key is not None else None
                gw = caller.gateway
                if gw is not None and not gw.skip_cache:
                    gw_key = GatewayCache.key(gw, entry.name, read.digest, checked)
                    cached = cached if cached is not None else self.gateway_cache.get(gw_key)
        except EmuError as e:
            await self._meter(caller, model, entry, started, e.outcome, weights=weights)
            e.metered = True
            raise
        except Exception as e:  # noqa: BLE001 - recorded, then surfaced as an internal error
            await self._meter(caller, model, entry, started, "error:3043", weights=weights)
            error = EmuError(f"internal error: {type(e).__name__}: {e}")
            error.metered = True
            raise error from e
        except BaseException:  # the caller gave up (cancelled: a Worker's timeout or CPU limit, a closed connection)
            await self._meter(caller, model, entry, started, RequestAborted.outcome_label(), weights=weights)
            raise
        return Run(self, caller, entry, task, loaded, read, checked, started, cached, (key, gw_key))

    async def run(
        self, model: str, inputs: Any, params: Mapping[str, Any] | None = None, caller: Caller | None = None
    ) -> Outcome:
        """Validate, (maybe) answer from cache, infer, and meter: one ledger row per call, success or not."""
        run = await self.start(model, inputs, params, caller)
        return await run.outcome()

    async def record_rejection(self, model: str, error: EmuError, caller: Caller) -> None:
        """Meter a request a door refused before it could call `run` (auth, oversized or unparsable body).

        Doors call this for errors without `metered` set, so every inference request leaves one row.
        """
        if getattr(error, "metered", False):
            return
        try:
            entry: ModelEntry | None = self.catalog.get(model)
        except EmuError:
            entry = None
        await self._meter(caller, model, entry, time.perf_counter(), error.outcome)
        error.metered = True

    def detach(self, work: Any) -> asyncio.Task[Any]:
        """Run `work` (a coroutine) as a task of its own, kept until it is done (`close` waits for none)."""
        task = asyncio.ensure_future(work)
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)
        return task

    async def _meter(
        self,
        caller: Caller,
        model: str,
        entry: ModelEntry | None,
        started: float,
        outcome: str,
        weights: str | None = None,
        usage: Mapping[str, int] | None = None,
        billed: bool = True,
    ) -> Decimal:
        """Write the request's one ledger row: its usage (none for a refusal) and what that costs."""
        price = entry.price if entry is not None else ZERO
        cost = cost_of(entry.prices, usage) if billed and usage and entry is not None else ZERO
        name = entry.name if entry else model
        latency_ms = (time.perf_counter() - started) * 1000.0
        if self.ledger is not None:
            record = LedgerRecord(
                request_id=caller.request_id,
                source=caller.source,
                model=name,
                unit_price=price,
                cost=cost,
                latency_ms=latency_ms,
                outcome=outcome,
                cache_hit=not billed and outcome == "ok",
                worker=caller.worker,
                route=caller.route,
                weights=weights,
                instance=self.instance,
                usage=usage,
                tags=orjson.dumps(list(caller.options.tags)).decode() if caller.options.tags else None,
                metadata=None
                if caller.gateway is None or caller.gateway.metadata is None
                else orjson.dumps(dict(caller.gateway.metadata)).decode(),
            )
            await asyncio.to_thread(self.ledger.record, record)
        self.metrics.inference_seconds.labels(name if entry is not None else "(unknown)").observe(latency_ms / 1000)
        note_ai_call(name, latency_ms, cost, None if outcome == "ok" else int(outcome.partition(":")[2]), weights)
        return cost

    def run_sync(
        self, model: str, inputs: Any, params: Mapping[str, Any] | None = None, caller: Caller | None = None
    ) -> Outcome:
        """For callers without an event loop (the CLI's `run`)."""
        return asyncio.run(self.run(model, inputs, params, caller or Caller(source="cli")))

    def close(self) -> None:
        self.slots.shutdown()
        if self.ledger is not None:
            self.ledger.close()
