"""onnxruntime sessions and the bounded pool of threads that runs them off the event loop."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import onnxruntime as ort

from ..errors import CAPACITY_TEXT, InferenceTimeout, ModelError, OutOfCapacity
from ..settings import default_of
from .memory import release_freed_memory

T = TypeVar("T")


def open_session(path: Path, intra_op_threads: int) -> ort.InferenceSession:
    """One session per model file; `InferenceSession.run` is thread-safe, so it is shared."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, intra_op_threads)
    options.inter_op_num_threads = 1
    # No spinning: idle intra-op threads sleep instead of busy-waiting, so they leave the cores to the preparation
    # threads (decoding the next request) and to the event loop; it is also what runs fastest on 2 cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No memory patterns: they are planned per input shape, and DETR's shape follows each image's size; without
    # them the three catalog models take ~225 MB less after serving, at the same speed (docs/benchmarks.md).
    options.enable_mem_pattern = False
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load ONNX model {path}: {e}") from None
    # Loading leaves the parsed protobuf and unpacked weights free in the C heaps: ~450 MB for the three catalog
    # models, given back here (runtime/inference/memory.py; docs/benchmarks.md, "Memory").
    release_freed_memory()
    return session


class InferenceSlots:
    """At most `concurrency` inferences run at once, at most `max_queue` wait; the event loop never blocks.

    onnxruntime already spreads one run over all cores, so more parallel runs only add contention. A request's
    decoding and pre-processing (`prepare`) run first on their own threads (`prepare_threads`), so that one
    request's decode overlaps another's inference and the slot holds only the graph and post-processing. The
    queue bound counts a request from admission, whichever stage it is in; the 3007 timeout is the wait for a slot.
    """

    def __init__(
        self,
        concurrency: int = default_of("max_concurrent_inferences"),
        max_queue: int = default_of("max_queue"),
        queue_timeout_s: float = default_of("queue_timeout_s"),
        prepare_threads: int = default_of("prepare_threads"),
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="inference")
        self._preparing = ThreadPoolExecutor(max_workers=max(1, prepare_threads), thread_name_prefix="prepare")
        self._lock = threading.Lock()
        self._pending = 0  # submitted and not yet finished (running + waiting)
        self.on_wait: Callable[[float], None] | None = None  # told each job's wait for a slot, in seconds

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, fn: Callable[..., T], prepare: Callable[[], Any] | None = None) -> T:
        """Run `fn` on an inference thread (`fn(prepare())` when `prepare` is given, `prepare` running on a
        preparation thread first); 3040 when the queue is full, 3007 when waiting too long for a slot."""
        with self._lock:
            if self._pending >= self.concurrency + self.max_queue:
                raise OutOfCapacity(CAPACITY_TEXT)
            self._pending += 1
        if prepare is not None:
            try:
                prepared = await asyncio.wrap_future(self._preparing.submit(prepare))
            except BaseException:
                with self._lock:
                    self._pending -= 1
                raise
            fn = functools.partial(fn, prepared)
        started = threading.Event()
        submitted = time.perf_counter()

        def job() -> T:
            started.set()
            if self.on_wait is not None:
                self.on_wait(time.perf_counter() - submitted)
            try:
                return fn()
            finally:
                with self._lock:
                    self._pending -= 1

        future = self._executor.submit(job)
        wrapped = asyncio.wrap_future(future)
        try:
            done, _ = await asyncio.wait({wrapped}, timeout=self.queue_timeout_s)
            if not done and not started.is_set() and future.cancel():
                with self._lock:
                    self._pending -= 1
                raise InferenceTimeout("Request timeout: no inference slot became free in time")
            return await wrapped
        except asyncio.CancelledError:
            if future.cancel():
                with self._lock:
                    self._pending -= 1
            raise

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._preparing.shutdown(wait=False, cancel_futures=True)
