"""AI Gateway's cache, as the binding's `gateway` option and the REST API's `cf-aig-*` headers ask for it.

Decided once, in `InferenceService.run`: an identical request (same gateway, model, input bytes and parameters,
or the same `cacheKey`) within its `cacheTtl` is answered from the cache, marked HIT, and billed $0; anything
else is a MISS that runs the model (and is stored when a TTL is given). `skipCache` bypasses the cache. TTLs are
bounded as AI Gateway bounds them: 60 seconds to one month. `metadata` is kept on the request's ledger row.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import BadInput

MIN_TTL_S = 60
MAX_TTL_S = 30 * 24 * 3600  # one month
OPTION_KEYS = ("id", "skipCache", "cacheTtl", "cacheKey", "metadata", "collectLog")


@dataclass(frozen=True)
class GatewayOptions:
    id: str
    skip_cache: bool = False
    cache_ttl: int | None = None
    cache_key: str | None = None
    metadata: Mapping[str, Any] | None = field(default=None, hash=False)
    collect_log: bool = True

    def __post_init__(self) -> None:
        if self.cache_ttl is not None and not MIN_TTL_S <= self.cache_ttl <= MAX_TTL_S:
            raise BadInput(f"gateway cacheTtl must be from {MIN_TTL_S} to {MAX_TTL_S} seconds, not {self.cache_ttl}")

    @classmethod
    def from_binding(cls, value: Any) -> GatewayOptions:
        """`env.AI.run(model, inputs, {"gateway": {"id": ..., "skipCache": ..., "cacheTtl": ...}})`."""
        if not isinstance(value, Mapping):
            raise BadInput(f"gateway must be an object like {{'id': 'my-gateway'}}, not {type(value).__name__}")
        unknown = sorted(set(value) - set(OPTION_KEYS))
        if unknown:
            raise BadInput(f"unknown gateway option {unknown[0]!r} (expected {', '.join(OPTION_KEYS)})")
        gateway_id = value.get("id")
        if not isinstance(gateway_id, str) or not gateway_id:
            raise BadInput("gateway.id must be the gateway's name")
        ttl = value.get("cacheTtl")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
            raise BadInput(f"gateway.cacheTtl must be a whole number of seconds, not {ttl!r}")
        key = value.get("cacheKey")
        if key is not None and not isinstance(key, str):
            raise BadInput("gateway.cacheKey must be a string")
        metadata = value.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise BadInput("gateway.metadata must be an object")
        return cls(
            gateway_id, bool(value.get("skipCache", False)), ttl, key, metadata, bool(value.get("collectLog", True))
        )

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> GatewayOptions | None:
        """The REST API's `cf-aig-skip-cache`, `cf-aig-cache-ttl`, `cf-aig-cache-key`, `cf-aig-metadata`."""
        names = ("cf-aig-skip-cache", "cf-aig-cache-ttl", "cf-aig-cache-key", "cf-aig-metadata")
        if not any(n in headers for n in names):
            return None
        ttl_text = headers.get("cf-aig-cache-ttl")
        try:
            ttl = int(ttl_text) if ttl_text is not None else None
        except ValueError:
            raise BadInput(f"cf-aig-cache-ttl must be a whole number of seconds, not {ttl_text!r}") from None
        metadata = None
        if "cf-aig-metadata" in headers:
            try:
                metadata = orjson.loads(headers["cf-aig-metadata"])
            except orjson.JSONDecodeError:
                raise BadInput("cf-aig-metadata must be a JSON object") from None
            if not isinstance(metadata, dict):
                raise BadInput("cf-aig-metadata must be a JSON object")
        skip = headers.get("cf-aig-skip-cache", "false").strip().lower() in ("1", "true")
        return cls("rest", skip, ttl, headers.get("cf-aig-cache-key"), metadata)


class GatewayCache:
    """Bounded LRU of (result, expiry) per cache key."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[bytes, tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(options: GatewayOptions, model: str, data: bytes, params: Mapping[str, Any]) -> bytes:
        h = hashlib.sha256(options.id.encode())
        if options.cache_key is not None:
            h.update(b"\0key\0" + options.cache_key.encode())
            return h.digest()
        h.update(b"\0" + model.encode() + b"\0")
        h.update(orjson.dumps(params, option=orjson.OPT_SORT_KEYS) + b"\0")
        h.update(data)
        return h.digest()

    def get(self, key: bytes) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[1] <= time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: bytes, value: Any, ttl_s: int) -> None:
        with self._lock:
            self._items[key] = (value, time.monotonic() + ttl_s)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
