"""Tiny stand-ins for the Pyodide modules Cloudflare Worker code commonly imports (`pyodide.ffi.to_js`,
`js.Object`), so the same source runs here. Installed only when the real modules are absent."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from typing import Any

from .abort import AbortController, AbortSignal
from .errors import JsException
from .web import Headers, Response, Uint8Array, js_value


def to_js(value: Any, *args: Any, dict_converter: Any = None, **kwargs: Any) -> Any:
    """Python data stays Python data here (the AI binding accepts it directly); bytes become a Uint8Array-like
    whose `.buffer` is an ArrayBuffer, as Pyodide gives (`Response(to_js(image).buffer)`)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Uint8Array(value)
    return value


def create_proxy(value: Any, *args: Any, **kwargs: Any) -> Any:
    return value


class _Object:
    @staticmethod
    def fromEntries(entries: Any) -> dict[str, Any]:  # noqa: N802 - JavaScript's name
        return dict(entries)


class _JSON:
    @staticmethod
    def stringify(value: Any) -> str:
        return json.dumps(value)

    @staticmethod
    def parse(text: str) -> Any:
        return js_value(json.loads(text))


class _JsResponse:
    """`from js import Response` (the older Python Workers style): `Response.new(body, init)` and
    `Response.json(data, init)` build this module's Response."""

    @staticmethod
    def new(body: Any = None, init: Any = None, **kwargs: Any) -> Response:
        options = {**dict(init or {}), **kwargs}
        return Response(
            body,
            status=int(options.get("status", 200)),
            headers=options.get("headers"),
            status_text=str(options.get("statusText", "")),
        )

    @staticmethod
    def json(data: Any, init: Any = None, **kwargs: Any) -> Response:
        options = {**dict(init or {}), **kwargs}
        return Response.json(data, status=int(options.get("status", 200)), headers=options.get("headers"))

    @staticmethod
    def redirect(url: str, status: int = 302) -> Response:
        return Response.redirect(url, status)


class _JsHeaders:
    @staticmethod
    def new(init: Any = None) -> Headers:
        return Headers(dict(init or {}))


class _Console:
    @staticmethod
    def log(*args: Any) -> None:
        print(*args, file=sys.stderr)

    error = warn = info = debug = log


def install() -> None:
    if "pyodide" not in sys.modules and importlib.util.find_spec("pyodide") is None:
        pyodide = types.ModuleType("pyodide")
        ffi = types.ModuleType("pyodide.ffi")
        ffi.to_js = to_js  # type: ignore[attr-defined]
        ffi.create_proxy = create_proxy  # type: ignore[attr-defined]
        ffi.JsProxy = object  # type: ignore[attr-defined]
        ffi.JsException = JsException  # type: ignore[attr-defined]
        pyodide.ffi = ffi  # type: ignore[attr-defined]
        sys.modules["pyodide"], sys.modules["pyodide.ffi"] = pyodide, ffi
    if "js" not in sys.modules and importlib.util.find_spec("js") is None:
        js = types.ModuleType("js")
        js.Object = _Object  # type: ignore[attr-defined]
        js.JSON = _JSON  # type: ignore[attr-defined]
        js.console = _Console  # type: ignore[attr-defined]
        js.Response = _JsResponse  # type: ignore[attr-defined]
        js.Headers = _JsHeaders  # type: ignore[attr-defined]
        js.AbortController = AbortController  # type: ignore[attr-defined]
        js.AbortSignal = AbortSignal  # type: ignore[attr-defined]
        sys.modules["js"] = js


def install_workers_module() -> None:
    """Make `import workers` (and Pyodide's `pyodide.ffi`, `js`) resolve for Worker code and its tests."""
    from .. import workers

    sys.modules["workers"] = workers  # even over a folder named workers/ that Python took as a namespace package
    install()
