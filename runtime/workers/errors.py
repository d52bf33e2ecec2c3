"""The error a binding call raises in the Worker, as on Cloudflare: the message starts with the error code."""

from __future__ import annotations


class InferenceUpstreamError(Exception):
    """`env.AI.run` failed; `str(e)` is "<code>: <message>", e.g. "5006: AiError: Bad input: ..."."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class JsException(Exception):
    """A JavaScript exception as Pyodide surfaces it in Python (`pyodide.ffi.JsException`): `name` is the JS
    error's name (e.g. "AbortError") and `str(e)` reads "<name>: <message>"."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.js_message = message
