"""The registry of binding kinds: the only module that names every binding (one module each, as miniflare has one
plugin each). A kind declares its wrangler key, parses its entries (runtime/config reads every key listed here)
and builds what the Worker finds on `env` (env.py). Kinds not emulated yet are `NotEmulated` lines: their
declarations load, warn at start and raise a clear error when touched; a kind that lands replaces its line.
"""

from __future__ import annotations

from .ai import AI
from .base import BindingKind
from .unemulated import Entries, NotEmulated

_KINDS: dict[str, BindingKind] = {}


def register(kind: BindingKind) -> None:
    """Add a binding kind, or put it in the place of the one with its type or wrangler key."""
    kinds = [k for k in _KINDS.values() if k.type != kind.type and k.key != kind.key]
    at = next((i for i, k in enumerate(_KINDS.values()) if k.type == kind.type or k.key == kind.key), len(kinds))
    kinds.insert(at, kind)
    _KINDS.clear()
    _KINDS.update((k.type, k) for k in kinds)


def all_kinds() -> tuple[BindingKind, ...]:
    return tuple(_KINDS.values())


def kind_named(type: str) -> BindingKind:
    """The kind a BindingConfig's `type` names."""
    return _KINDS[type]


def kind_for_key(key: str) -> BindingKind | None:
    """The kind a top-level wrangler key declares, None for a key that declares no binding."""
    return next((k for k in _KINDS.values() if k.key == key), None)


def wrangler_keys() -> frozenset[str]:
    """The top-level config keys that declare bindings."""
    return frozenset(k.key for k in _KINDS.values())


for _kind in (
    AI,
    NotEmulated("kv", "kv_namespaces", "KV namespace"),
    NotEmulated("d1", "d1_databases", "D1 database"),
    NotEmulated("r2", "r2_buckets", "R2 bucket"),
    NotEmulated("durable_objects", "durable_objects", "Durable Object namespace", Entries("bindings", field="name")),
    NotEmulated(
        "assets",
        "assets",
        "static assets",
        Entries(many=False, optional=True, about="static assets", detail="from {directory}"),
    ),
    NotEmulated("services", "services", "service"),
    NotEmulated(
        "queues",
        "queues",
        "queue producer",
        Entries("producers"),
        Entries("consumers", field=None, about="a consumer", detail="of queue {queue}"),
    ),
    NotEmulated("vectorize", "vectorize", "Vectorize index"),
    NotEmulated("workflows", "workflows", "Workflow"),
    NotEmulated("hyperdrive", "hyperdrive", "Hyperdrive"),
    NotEmulated("analytics_engine", "analytics_engine_datasets", "Analytics Engine dataset"),
    NotEmulated("browser", "browser", "Browser Rendering", Entries(many=False)),
    NotEmulated("images", "images", "Images", Entries(many=False)),
    NotEmulated("send_email", "send_email", "send email", Entries(field="name")),
    NotEmulated("dispatch_namespaces", "dispatch_namespaces", "dispatch namespace"),
    NotEmulated("mtls_certificates", "mtls_certificates", "mTLS certificate"),
    NotEmulated("version_metadata", "version_metadata", "version metadata", Entries(many=False)),
    NotEmulated("pipelines", "pipelines", "Pipeline"),
    NotEmulated("secrets_store", "secrets_store_secrets", "Secrets Store secret"),
    NotEmulated("ratelimits", "ratelimits", "rate limiting", Entries(field="name")),
    NotEmulated("worker_loaders", "worker_loaders", "Worker Loader"),
):
    register(_kind)

__all__ = ["all_kinds", "kind_for_key", "kind_named", "register", "wrangler_keys"]
