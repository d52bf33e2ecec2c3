"""The `workers` module a Python Worker imports (`from workers import WorkerEntrypoint, Response`).

The Worker host registers this package as `workers` in sys.modules before loading the Worker's code.
"""

from .entrypoint import Context, WorkerEntrypoint
from .errors import InferenceUpstreamError
from .fetch import File, FormData, Headers, JsArray, JsObject, Request, Response

__all__ = [
    "Context",
    "File",
    "FormData",
    "Headers",
    "InferenceUpstreamError",
    "JsArray",
    "JsObject",
    "Request",
    "Response",
    "WorkerEntrypoint",
]
