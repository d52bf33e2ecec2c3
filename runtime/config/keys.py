"""Which config keys mean what: ours, the bindings' (one kind each, runtime/bindings/), and the wrangler keys the
emulator accepts and ignores so that a real wrangler.toml loads. Any other key is an error."""

from __future__ import annotations

from ..bindings import wrangler_keys
from ..bindings.ai import IGNORED as AI_IGNORED
from ..bindings.ai import KEYS as OUR_AI

OUR_TOP = ("name", "main", "compatibility_date", "ai", "vars", "limits", "emulator")  # the "did you mean" list
# Top-level keys whose values are bindings: each is parsed by its kind (emulated or not: unemulated.py).
BINDING_KEYS = wrangler_keys()
# Keys wrangler knows that the emulator has no use for and that declare no binding: accepted and ignored.
WRANGLER_IGNORED = frozenset(
    {
        "$schema",
        "account_id",
        "alias",
        "base_dir",
        "build",
        "compatibility_flags",
        "compliance_region",
        "containers",
        "data_blobs",
        "define",
        "dev",
        "env",
        "find_additional_modules",
        "first_party_worker",
        "jsx_factory",
        "jsx_fragment",
        "keep_vars",
        "legacy_env",
        "logfwdr",
        "logpush",
        "migrations",
        "minify",
        "no_bundle",
        "node_compat",
        "observability",
        "placement",
        "preserve_file_names",
        "python_modules",
        "route",
        "routes",
        "rules",
        "site",
        "tail_consumers",
        "text_blobs",
        "triggers",
        "tsconfig",
        "unsafe",
        "upload_source_maps",
        "usage_model",
        "wasm_modules",
        "workers_dev",
        "preview_urls",
        "send_metrics",
        "secrets",
        "unsafe_hello_world",
        "streaming_tail_consumers",
    }
)
KNOWN_TOP = frozenset(OUR_TOP) | BINDING_KEYS | WRANGLER_IGNORED

__all__ = ["AI_IGNORED", "BINDING_KEYS", "KNOWN_TOP", "OUR_AI", "OUR_TOP", "WRANGLER_IGNORED"]
