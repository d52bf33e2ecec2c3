"""The `workers` module a Python Worker imports (`from workers import WorkerEntrypoint, Response`), with the
names Cloudflare's Python Workers runtime SDK exports (see docs/workers.md for what is emulated and what not).

The Worker host registers this package as `workers` in sys.modules before loading the Worker's code.
"""

from typing import Any

from .entrypoint import Context, DurableObject, WorkerEntrypoint, WorkflowEntrypoint, handler
from .errors import InferenceUpstreamError
from .outbound import fetch
from .rpc import import_from_javascript, patch_env, python_from_rpc, python_to_rpc
from .web import ArrayBuffer, Blob, File, FormData, Headers, JsArray, JsObject, Request, Response

FetchResponse = Response

__all__ = [
    "ArrayBuffer",
    "Blob",
    "Context",
    "DurableObject",
    "FetchResponse",
    "File",
    "FormData",
    "Headers",
    "InferenceUpstreamError",
    "JsArray",
    "JsObject",
    "Request",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "env",
    "fetch",
    "handler",
    "import_from_javascript",
    "patch_env",
    "python_from_rpc",
    "python_to_rpc",
    "waitUntil",
    "wait_until",
]


def __getattr__(key: str) -> Any:
    """`workers.env` is the Worker's env; `workers.wait_until` / `waitUntil` the current request's."""
    from .entrypoint import WORKER_ENV, wait_until

    if key == "env":
        return WORKER_ENV[0]
    if key in ("wait_until", "waitUntil"):
        return wait_until
    raise AttributeError(f"module {__name__!r} has no attribute {key!r}")
