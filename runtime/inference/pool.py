"""Loaded models by name: loaded lazily and once, in the background, with their loading state visible.

Which weights answer is decided here (`[emulator] weights`):
- "real": the model's own weights (pulled on first use when missing, or the coded error).
- "stand-in": the bundled stand-in of the model's task, always (fast and deterministic, for CI and tests).
- "auto": the real weights when on disk; otherwise the stand-in answers at once while the real weights are
  pulled in the background (auto_pull), and they take over when verified and loaded (one log line says so).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from ..entry import ModelEntry
from ..errors import EmuError, InferenceTimeout, ModelLoading, ModelUnavailable
from ..settings import default_of
from ..tasks import StandIn, load_model, task_of
from .hub import offline as hub_offline
from .model import LoadedModel
from .store import ModelStore

log = logging.getLogger("workers-ai-emu")
WEIGHTS_MODES = ("auto", "real", "stand-in")
REAL = "real"  # what x-emu-weights says when a model's own weights answered
STANDIN_PREFIX = "stand-in:"

RETRY_FAILED_AFTER_S = 30.0


@dataclass
class _Loading:
    future: Future
    started: float
    estimate: float


class ModelPool:
    """One LoadedModel (one onnxruntime session) per model name, shared by every door."""

    def __init__(
        self,
        store: ModelStore,
        intra_op_threads: int = default_of("intra_op_threads"),
        auto_pull: bool = default_of("auto_pull"),
        weights: str = default_of("weights"),
    ) -> None:
        if weights not in WEIGHTS_MODES:
            raise ValueError(f"weights must be one of {WEIGHTS_MODES}, not {weights!r}")
        self.store = store
        self.intra_op_threads = intra_op_threads
        self.auto_pull = auto_pull
        self.weights = weights
        self._loaded: dict[str, LoadedModel] = {}
        self._loading: dict[str, _Loading] = {}
        self._failed: dict[str, tuple[float, EmuError]] = {}
        self._background: set[str] = set()  # real weights being pulled and loaded while a stand-in answers
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    # -- which weights answer --------------------------------------------------------------------------------

    def standin_for(self, entry: ModelEntry) -> StandIn | None:
        """The stand-in that answers for `entry` now, or None when its real weights (would) answer."""
        if self.weights == "real" or entry.name in self._loaded:
            return None
        standin = task_of(entry).standin
        if standin is None or self.weights == "stand-in":
            return standin
        if entry.name in self._background or self.store.find(entry) is None:
            return standin
        return None

    def serving(self, entry: ModelEntry) -> str:
        """What answers for `entry` now: "real" or "stand-in:<name>"."""
        standin = self.standin_for(entry)
        return standin.label if standin is not None else REAL

    @staticmethod
    def _standin_entry(entry: ModelEntry, standin: StandIn) -> ModelEntry:
        return ModelEntry(name=standin.label, task=entry.task, path=standin.folder, listed=False)

    def status(self, entry: ModelEntry) -> str:
        """loaded | loading | on disk | missing (of the real weights)."""
        if entry.name in self._loaded:
            return "loaded"
        if entry.name in self._loading:
            return "loading"
        return "on disk" if self.store.find(entry) else "missing"

    def loaded_count(self) -> int:
        return len(self._loaded)

    def _load(self, entry: ModelEntry) -> LoadedModel:
        if entry.name.startswith(STANDIN_PREFIX):
            return task_of(entry).load_standin(self.intra_op_threads)
        folder = self.store.find(entry)
        if folder is None:
            if not (self.auto_pull and self.store.can_pull(entry)):
                raise ModelUnavailable(self.store.missing_message(entry))
            folder = self.store.pull(entry)
        return load_model(folder, task=entry.task, variant=entry.variant, intra_op_threads=self.intra_op_threads)

    def _pull_in_background(self, entry: ModelEntry, standin: StandIn) -> None:
        """Auto mode: pull and load the real weights while `standin` answers; they take over when loaded."""
        if not (self.auto_pull and self.store.can_pull(entry)) or hub_offline():
            return  # offline: `dev`'s start line already says how to get the real weights
        with self._lock:
            if entry.name in self._background or entry.name in self._loaded:
                return
            failed = self._failed.get(entry.name)
            if failed and time.monotonic() - failed[0] < RETRY_FAILED_AFTER_S:
                return
            self._background.add(entry.name)
        loading = self._start(entry)

        def done(future: Future) -> None:
            with self._lock:
                self._background.discard(entry.name)
            error = future.exception()
            if error is None:
                log.info(
                    "Real weights for %s are verified and loaded: they answer from now on, instead of %s",
                    entry.name,
                    standin.label,
                )
            elif entry.name not in self._warned:
                self._warned.add(entry.name)
                log.warning(
                    "Could not get real weights for %s (%s); %s keeps answering. "
                    "`workers-ai-emu models pull %s` fetches them where the Hugging Face Hub is reachable",
                    entry.name,
                    error,
                    standin.label,
                    entry.name,
                )

        loading.future.add_done_callback(done)

    def _start(self, entry: ModelEntry) -> _Loading:
        with self._lock:
            loading = self._loading.get(entry.name)
            if loading is not None:
                return loading
            future: Future = Future()
            pulling = self.store.find(entry) is None
            loading = _Loading(future, time.monotonic(), 120.0 if pulling else 5.0)
            self._loading[entry.name] = loading

        def work() -> None:
            try:
                model = self._load(entry)
            except BaseException as e:  # noqa: BLE001 - handed to every waiter
                error = e if isinstance(e, EmuError) else ModelUnavailable(f"Model {entry.name}: {e}")
                with self._lock:
                    self._failed[entry.name] = (time.monotonic(), error)
                    del self._loading[entry.name]
                future.set_exception(error)
                return
            with self._lock:
                self._loaded[entry.name] = model
                self._failed.pop(entry.name, None)
                del self._loading[entry.name]
            future.set_result(model)

        threading.Thread(target=work, name=f"load {entry.name}", daemon=True).start()
        return loading

    def _target(self, entry: ModelEntry) -> ModelEntry:
        """The entry whose weights answer now: `entry` itself, or its stand-in (starting a background pull)."""
        standin = self.standin_for(entry)
        if standin is None:
            return entry
        if self.weights == "auto":
            self._pull_in_background(entry, standin)
        return self._standin_entry(entry, standin)

    def preload(self, entry: ModelEntry) -> ModelEntry:
        """Start loading what answers for `entry` (in the background); returns that target, for readiness."""
        target = self._target(entry)
        if target.name not in self._loaded:
            self._start(target)
        return target

    def readiness(self, targets: list[ModelEntry]) -> dict[str, str]:
        """Each preload target's state: loaded | loading | failed: <why>."""
        states = {}
        for target in targets:
            if target.name in self._loaded:
                states[target.name] = "loaded"
            elif target.name in self._loading:
                states[target.name] = "loading"
            elif target.name in self._failed:
                states[target.name] = f"failed: {self._failed[target.name][1]}"
            else:
                self._start(target)  # retried after a failure window, or never started
                states[target.name] = "loading"
        return states

    def get_sync(self, entry: ModelEntry) -> LoadedModel:
        entry = self._target(entry)
        model = self._loaded.get(entry.name)
        return model if model is not None else self._start(entry).future.result()

    async def get(self, entry: ModelEntry, wait: bool = True, timeout: float = 300.0) -> LoadedModel:
        """The loaded model (real or stand-in, by `weights`); loads it in the background on first use.

        With wait=False a model still loading raises ModelLoading (the HF door's 503 with estimated_time).
        """
        entry = self._target(entry)
        model = self._loaded.get(entry.name)
        if model is not None:
            return model
        failed = self._failed.get(entry.name)
        if failed and time.monotonic() - failed[0] < RETRY_FAILED_AFTER_S:
            raise failed[1]
        loading = self._start(entry)
        if not wait:
            try:
                return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(loading.future)), 0.5)
            except TimeoutError:
                pulling = self.store.estimated_time(entry)  # from the bytes still to download, when pulling
                remaining = max(
                    1.0, pulling if pulling is not None else loading.estimate - (time.monotonic() - loading.started)
                )
                raise ModelLoading(
                    f"Model {entry.hf_id or entry.name} is currently loading", estimated_time=round(remaining, 1)
                ) from None
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(loading.future)), timeout)
        except TimeoutError:
            raise InferenceTimeout(f"Model {entry.name} did not finish loading within {timeout:g} s") from None
