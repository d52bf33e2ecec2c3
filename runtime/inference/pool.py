"""Loaded models by name: loaded lazily and once, in the background, with their loading state visible."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from ..catalog import ModelEntry
from ..errors import EmuError, InferenceTimeout, ModelLoading, ModelUnavailable
from .model import LoadedModel, load_model
from .store import ModelStore

RETRY_FAILED_AFTER_S = 30.0


@dataclass
class _Loading:
    future: Future
    started: float
    estimate: float


class ModelPool:
    """One LoadedModel (one onnxruntime session) per model name, shared by every door."""

    def __init__(self, store: ModelStore, intra_op_threads: int = 1, auto_pull: bool = True) -> None:
        self.store = store
        self.intra_op_threads = intra_op_threads
        self.auto_pull = auto_pull
        self._loaded: dict[str, LoadedModel] = {}
        self._loading: dict[str, _Loading] = {}
        self._failed: dict[str, tuple[float, EmuError]] = {}
        self._lock = threading.Lock()

    def status(self, entry: ModelEntry) -> str:
        """loaded | loading | on disk | missing."""
        if entry.name in self._loaded:
            return "loaded"
        if entry.name in self._loading:
            return "loading"
        return "on disk" if self.store.find(entry) else "missing"

    def loaded(self, name: str) -> LoadedModel | None:
        return self._loaded.get(name)

    def _load(self, entry: ModelEntry) -> LoadedModel:
        folder = self.store.find(entry)
        if folder is None:
            if not (self.auto_pull and self.store.can_pull(entry)):
                raise ModelUnavailable(self.store.missing_message(entry))
            folder = self.store.pull(entry)
        return load_model(folder, task=entry.task, variant=entry.variant, intra_op_threads=self.intra_op_threads)

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

    def get_sync(self, entry: ModelEntry) -> LoadedModel:
        model = self._loaded.get(entry.name)
        return model if model is not None else self._start(entry).future.result()

    async def get(self, entry: ModelEntry, wait: bool = True, timeout: float = 300.0) -> LoadedModel:
        """The loaded model; loads it in the background on first use.

        With wait=False a model still loading raises ModelLoading (the HF door's 503 with estimated_time).
        """
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
            except asyncio.TimeoutError:
                pulling = self.store.estimated_time(entry)  # from the bytes still to download, when pulling
                remaining = max(1.0, pulling if pulling is not None
                                else loading.estimate - (time.monotonic() - loading.started))
                raise ModelLoading(f"Model {entry.hf_id or entry.name} is currently loading",
                                   estimated_time=round(remaining, 1)) from None
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(loading.future)), timeout)
        except asyncio.TimeoutError:
            raise InferenceTimeout(f"Model {entry.name} did not finish loading within {timeout:g} s") from None
