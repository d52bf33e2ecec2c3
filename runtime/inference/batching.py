"""Dynamic batching: requests for one model that wait for the inference slot together run as one batch.

A request is prepared (decoded, pre-processed) on the preparation threads and then added here, before it waits
for a slot. Whichever request gets a slot runs everything waiting for the same model with the same input shapes,
up to the model's `max_batch` (catalog key), as one `session.run`, and hands each request its own rows; a request
whose rows were already computed by another's batch leaves the slot at once. Nothing ever waits to fill a batch:
a lone request runs alone, at once. Only graphs whose first input dimension is symbolic can batch
(`LoadedModel.batchable`), and a model batches only where `max_batch` > 1, set where it was measured to pay
(docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import LoadedModel, Prepared


@dataclass
class _Waiting:
    prepared: Prepared
    params: Mapping[str, Any]
    future: Future

    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple((k, v.shape) for k, v in sorted(self.prepared.feeds.items()))


class Batcher:
    """The requests of one model waiting for an inference slot."""

    def __init__(self, model: LoadedModel, max_batch: int) -> None:
        self.model = model
        self.max_batch = max(1, max_batch)
        self._waiting: deque[_Waiting] = deque()
        self._lock = threading.Lock()
        self.batches: dict[int, int] = {}  # batch size -> how many ran (for the metrics and the benchmark)

    def add(self, prepared: Prepared, params: Mapping[str, Any]) -> Future:
        """Queue a prepared request; its Future is resolved by whichever slot runs it."""
        item = _Waiting(prepared, params, Future())
        with self._lock:
            self._waiting.append(item)
        return item.future

    def run_until(self, future: Future) -> list[dict]:
        """On an inference thread: run waiting batches until `future` has its result (often at once)."""
        while not future.done():
            batch = self._take()
            if batch:
                self._run(batch)
            elif not future.done():  # taken by a batch running on another inference thread
                future.exception()  # wait for it
        return future.result()

    def _take(self) -> list[_Waiting]:
        with self._lock:
            while self._waiting and not self._waiting[0].future.set_running_or_notify_cancel():
                self._waiting.popleft()  # its caller went away
            if not self._waiting:
                return []
            first = self._waiting.popleft()
            batch, shapes = [first], first.shapes()
            rest: deque[_Waiting] = deque()
            while self._waiting and len(batch) < self.max_batch:
                item = self._waiting.popleft()
                if item.shapes() == shapes and item.future.set_running_or_notify_cancel():
                    batch.append(item)
                elif not item.future.cancelled():
                    rest.append(item)
            self._waiting.extendleft(reversed(rest))
            return batch

    def _run(self, batch: list[_Waiting]) -> None:
        family = self.model.family
        try:
            if len(batch) == 1:
                outputs = [family.run(batch[0].prepared.feeds)]
            else:
                feeds = {k: np.concatenate([w.prepared.feeds[k] for w in batch]) for k in batch[0].prepared.feeds}
                joined = family.run(feeds)
                outputs = [{k: v[i : i + 1] for k, v in joined.items()} for i in range(len(batch))]
        except BaseException as e:  # noqa: BLE001 - every request of the batch gets the graph's failure
            for w in batch:
                w.future.set_exception(e)
            return
        self.batches[len(batch)] = self.batches.get(len(batch), 0) + 1
        for w, out in zip(batch, outputs):
            try:
                w.future.set_result(family.finish(out, w.prepared, w.params))
            except BaseException as e:  # noqa: BLE001 - post-processing failed for this request alone
                w.future.set_exception(e)
