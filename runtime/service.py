"""The one call path: every door (binding, Cloudflare REST, Hugging Face API, CLI) calls `InferenceService.run`.

Validation, caching, budget, inference and metering happen here and nowhere else, so no door can forget to
bill or check. Doors only translate wire formats and map `EmuError`s to their own error shapes.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import orjson

from .catalog import ASR, Catalog, ModelEntry
from .errors import (
    CAPACITY_TEXT,
    DAILY_ALLOCATION_TEXT,
    BudgetExceeded,
    EmuError,
    OutOfCapacity,
    RequestAborted,
    RequestTooLarge,
)
from .faults import Faults, Rule
from .gateway import GatewayCache, GatewayOptions
from .inference.batching import Batcher
from .inference.model import LoadedModel
from .inference.pool import ModelPool
from .inference.session import InferenceSlots
from .inference.store import ModelStore
from .inputs import audio_bytes, image_bytes
from .metering.backends import open_ledger
from .metering.ledger import Ledger, LedgerRecord
from .metering.metrics import Metrics
from .metering.neurons import Plan
from .metering.report import budget_status
from .metering.units import cost_of
from .money import ZERO
from .requestlog import note_ai_call
from .runoptions import RunOptions
from .schemas import schema_name
from .settings import EmulatorSettings, Settings, instance_name
from .speech.family import Heard
from .speech.transcript import Transcript

OFF_LOOP_ITEMS = 65_536  # uint8 arrays longer than this are converted to bytes on a thread, not on the loop


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Caller:
    """Who is asking, for the ledger, and how the door wants waiting and caching handled."""

    source: str  # binding | rest | hf | cli
    worker: str | None = None
    route: str | None = None
    request_id: str = field(default_factory=new_request_id)
    use_cache: bool = False  # only the Hugging Face door caches (its x-use-cache header)
    wait_for_model: bool = True  # False: a loading model raises ModelLoading at once
    gateway: GatewayOptions | None = None  # AI Gateway options (binding `gateway`, REST cf-aig-* headers)
    options: RunOptions = RunOptions()  # tags, rejectIfBusy, queueRequest (runtime/runoptions.py)


@dataclass(frozen=True)
class Outcome:
    result: Any  # the Workers AI output: a list (vision) or an object (speech)
    model: ModelEntry
    request_id: str
    cost: Decimal
    cached: bool
    compute_time_s: float
    weights: str = "real"  # "stand-in:<name>" when a bundled stand-in answered (inference/standins.py)
    gateway_cache: str | None = None  # "HIT" or "MISS" when AI Gateway options were given
    transcript: Transcript | None = None  # speech: what was heard (the Hugging Face door shapes its answer from it)
    audio_ms: int | None = None  # speech: the billed audio duration
    usage: Mapping[str, int] | None = None  # what the request used: {"request": 1}, {"audio-ms": 61234}


class ResultCache:
    """Bounded LRU of results keyed by model, image digest and parameters."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, Any] = OrderedDict()

    @staticmethod
    def key(model: str, data: bytes, params: Mapping[str, Any]) -> bytes:
        h = hashlib.sha256(model.encode())
        h.update(b"\0")
        h.update(orjson.dumps(params, option=orjson.OPT_SORT_KEYS))
        h.update(b"\0")
        h.update(data)
        return h.digest()

    def get(self, key: bytes) -> Any:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: bytes, value: Any) -> None:
        if self.size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


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

    async def _infer(self, entry: ModelEntry, loaded: LoadedModel, data: bytes, params: dict[str, Any]) -> Any:
        """Prepare on the preparation threads, then infer in a slot: alone, or batched with the requests for the
        same model waiting beside it (inference/batching.py) where the model's `max_batch` allows."""
        max_pixels: int | float = self.settings.max_image_pixels
        if entry.task == ASR:
            max_pixels = self.settings.max_audio_seconds
        batcher = self._batcher(entry, loaded)
        if batcher is None:
            return await self.slots.run(
                lambda prepared: loaded.infer(prepared, params), prepare=lambda: loaded.prepare(data, max_pixels)
            )
        waiting: list[Future] = []

        def prepare() -> Future:
            future = batcher.add(loaded.prepare(data, max_pixels), params)
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

    async def run(
        self, model: str, inputs: Any, params: Mapping[str, Any] | None = None, caller: Caller | None = None
    ) -> Outcome:
        """Validate, (maybe) answer from cache, infer, and meter: one ledger row per call, success or not."""
        caller = caller or Caller(source="binding")
        started = time.perf_counter()
        entry: ModelEntry | None = None
        weights: str | None = None
        try:
            entry = self.catalog.get(model)
            caller.options.refuse_unsupported(entry.name)
            delay, fault = self.faults.take(entry.name, model, *([entry.hf_id] if entry.hf_id else []))
            if delay:
                await asyncio.sleep(delay)
            if fault is not None:
                raise fault
            split = (
                (lambda: audio_bytes(inputs, schema_name(entry))) if entry.task == ASR else lambda: image_bytes(inputs)
            )
            array = inputs.get("audio" if entry.task == ASR else "image") if isinstance(inputs, Mapping) else None
            if isinstance(array, (list, tuple)) and len(array) > OFF_LOOP_ITEMS:
                data, extra = await asyncio.to_thread(split)
            else:
                data, extra = split()
            if len(data) > self.settings.max_body_bytes:
                raise RequestTooLarge(f"Request is larger than {self.settings.max_body_bytes} bytes")
            await asyncio.to_thread(self._check_budget)
            loaded = await self.pool.get(entry, wait=caller.wait_for_model, timeout=self.settings.model_wait_s)
            weights = loaded.weights
            checked = loaded.family.check_params({**entry.defaults, **extra, **(params or {})}, entry.schema)
            key = ResultCache.key(entry.name, data, checked) if caller.use_cache else None
            result = self.cache.get(key) if key is not None else None
            gw = caller.gateway
            gw_key = None
            if gw is not None and not gw.skip_cache:
                gw_key = GatewayCache.key(gw, entry.name, data, checked)
                result = result if result is not None else self.gateway_cache.get(gw_key)
            cached = result is not None
            if result is None:
                if caller.options.reject_if_busy and self.slots.pending >= self.slots.concurrency:
                    raise OutOfCapacity(CAPACITY_TEXT)
                fresh = await self._infer(entry, loaded, data, checked)
                if key is not None:
                    self.cache.put(key, fresh)
                if gw_key is not None and gw is not None and gw.cache_ttl:
                    self.gateway_cache.put(gw_key, fresh, gw.cache_ttl)
                result = fresh
            heard = result if isinstance(result, Heard) else None
            if heard is not None:
                result = heard.output
        except EmuError as e:
            await self._meter(caller, model, entry, started, e.outcome, billed=False, cached=False, weights=weights)
            e.metered = True
            raise
        except Exception as e:  # noqa: BLE001 - recorded, then surfaced as an internal error
            await self._meter(caller, model, entry, started, "error:3043", billed=False, cached=False, weights=weights)
            error = EmuError(f"internal error: {type(e).__name__}: {e}")
            error.metered = True
            raise error from e
        except BaseException:  # the caller gave up (cancelled: a Worker's timeout or CPU limit, a closed connection)
            await self._meter(
                caller,
                model,
                entry,
                started,
                RequestAborted.outcome_label(),
                billed=False,
                cached=False,
                weights=weights,
            )
            raise
        elapsed = time.perf_counter() - started
        audio_ms = heard.audio_ms if heard is not None else None
        usage = {"audio-ms": audio_ms} if audio_ms is not None else {"request": 1}
        cost = await self._meter(
            caller, model, entry, started, "ok", billed=not cached, cached=cached, weights=weights, usage=usage
        )
        return Outcome(
            transcript=heard.transcript if heard is not None else None,
            audio_ms=audio_ms,
            usage=usage,
            gateway_cache=None if caller.gateway is None else ("HIT" if cached else "MISS"),
            result=result,
            model=entry,
            request_id=caller.request_id,
            cost=cost,
            cached=cached,
            compute_time_s=elapsed,
            weights=loaded.weights,
        )

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
        await self._meter(caller, model, entry, time.perf_counter(), error.outcome, billed=False, cached=False)
        error.metered = True

    async def _meter(
        self,
        caller: Caller,
        model: str,
        entry: ModelEntry | None,
        started: float,
        outcome: str,
        billed: bool,
        cached: bool,
        weights: str | None = None,
        usage: Mapping[str, int] | None = None,
    ) -> Decimal:
        price = entry.price if entry is not None else ZERO
        cost = cost_of(entry.prices, usage or {}) if billed and entry is not None else ZERO
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
                cache_hit=cached,
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
