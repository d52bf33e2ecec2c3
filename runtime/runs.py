"""The values of one call through the service: who asks (`Caller`), what came back (`Outcome`), and the result
cache. A leaf beside runtime/service.py, so doors and bindings can import them without the service."""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from .entry import ModelEntry
from .gateway import GatewayOptions
from .runoptions import RunOptions


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
    result: Any  # the Workers AI view of the answer (the task's `answer`): a list (vision) or an object (speech)
    model: ModelEntry
    request_id: str
    cost: Decimal
    cached: bool
    compute_time_s: float
    weights: str = "real"  # "stand-in:<name>" when a bundled stand-in answered
    gateway_cache: str | None = None  # "HIT" or "MISS" when AI Gateway options were given
    value: Any = None  # the task's own result, which its other views (Hugging Face, ...) are made from
    usage: Mapping[str, int] = field(default_factory=dict)  # what the answer used, in units (metering/units.py)


class ResultCache:
    """Bounded LRU of results keyed by model, input digest and parameters."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, Any] = OrderedDict()

    @staticmethod
    def key(model: str, digest: bytes, params: Mapping[str, Any]) -> bytes:
        h = hashlib.sha256(model.encode())
        h.update(b"\0")
        h.update(orjson.dumps(params, option=orjson.OPT_SORT_KEYS))
        h.update(b"\0")
        h.update(digest)
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
