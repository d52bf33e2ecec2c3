"""Request, Response and Headers as Cloudflare's Python Workers SDK exposes them, over plain Python data."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

BodyInit = str | bytes | bytearray | memoryview | None


class JsObject(dict):
    """A dict that also allows attribute access, as the JS objects Python Workers code receives do
    (`(await request.json()).name`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_py(self) -> dict[str, Any]:
        return _to_py(self)


class JsArray(list):
    """A list with Pyodide's `to_py()`, so Worker code written for Cloudflare (`result.to_py()`) runs as is."""

    def to_py(self) -> list[Any]:
        return _to_py(self)


def _to_py(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_py(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_py(v) for v in value]
    return value


def js_value(value: Any) -> Any:
    """Plain JSON-like data as the JsObject/JsArray the Worker sees."""
    if isinstance(value, dict):
        return JsObject({k: js_value(v) for k, v in value.items()})
    if isinstance(value, list):
        return JsArray(js_value(v) for v in value)
    return value


class Headers(Mapping[str, str]):
    """Case-insensitive headers: a read-only-looking Mapping plus the Fetch API's get/has/set/append/delete."""

    def __init__(self, init: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        if init is None:
            return
        pairs = init.items() if isinstance(init, Mapping) else init
        for name, value in pairs:
            self.append(name, value)

    def get(self, name: str, default: Any = None) -> Any:
        values = [v for k, v in self._items if k == name.lower()]
        return ", ".join(values) if values else default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        seen: list[str] = []
        for k, _ in self._items:
            if k not in seen:
                seen.append(k)
        return iter(seen)

    def __len__(self) -> int:
        return len(set(k for k, _ in self._items))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k == name.lower() for k, _ in self._items)

    def has(self, name: str) -> bool:
        return name in self

    def set(self, name: str, value: str) -> None:
        self.delete(name)
        self.append(name, value)

    def append(self, name: str, value: str) -> None:
        if not isinstance(name, str) or not isinstance(value, (str, int)):
            raise TypeError(f"header {name!r} must have a string value, not {type(value).__name__}")
        self._items.append((name.lower(), str(value)))

    def delete(self, name: str) -> None:
        self._items = [(k, v) for k, v in self._items if k != name.lower()]

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        self.delete(name)

    def entries(self) -> list[tuple[str, str]]:
        return list(self._items)

    def raw(self) -> list[tuple[bytes, bytes]]:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self._items]

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class Body:
    """The Fetch API's body readers, shared by Request, Response and uploaded Files; the body is held as bytes."""

    _body: bytes = b""

    async def bytes(self) -> bytes:
        return self._body

    async def arrayBuffer(self) -> builtins.bytes:  # noqa: N802 - the Fetch API's name
        return self._body

    async def text(self) -> str:
        return self._body.decode("utf-8", "replace")

    async def _read_json(self) -> Any:
        """The body parsed as JSON; objects allow attribute access like the JS objects on Cloudflare."""
        return js_value(json.loads(self._body))


class File(Body):
    """One uploaded file of a multipart form (as FormData's File): name, type and the bytes."""

    def __init__(self, data: bytes, filename: str, content_type: str) -> None:
        self.name = filename
        self.type = content_type
        self.size = len(data)
        self._body = data


class FormData(Mapping[str, Any]):
    """Parsed form fields: strings for plain fields, File for uploads. `get(name)` returns the first value."""

    def __init__(self, fields: list[tuple[str, Any]]) -> None:
        self._fields = fields

    def get(self, name: str, default: Any = None) -> Any:
        return next((v for k, v in self._fields if k == name), default)

    def getAll(self, name: str) -> list[Any]:  # noqa: N802 - the Fetch API's name
        return [v for k, v in self._fields if k == name]

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self._fields)

    def __getitem__(self, name: str) -> Any:
        if not self.has(name):
            raise KeyError(name)
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._fields))

    def __len__(self) -> int:
        return len(dict.fromkeys(k for k, _ in self._fields))


async def parse_form(body: bytes, content_type: str) -> FormData:
    """multipart/form-data (python-multipart, through starlette's parser) or application/x-www-form-urlencoded."""
    from starlette.datastructures import Headers as HttpHeaders
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    if content_type.lower().startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        return FormData(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if not content_type.lower().startswith("multipart/form-data"):
        raise TypeError(f"formData() needs a multipart/form-data or urlencoded body, not {content_type or 'none'}")

    async def stream() -> Any:
        yield body

    parser = MultiPartParser(HttpHeaders({"content-type": content_type}), stream(), max_part_size=len(body) + 1)
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise TypeError(f"formData(): the multipart body could not be parsed ({e.message})") from None
    fields: list[tuple[str, Any]] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            await value.close()
            fields.append((name, File(data, value.filename or "", value.content_type or "application/octet-stream")))
        else:
            fields.append((name, value))
    return FormData(fields)


class Request(Body):
    """The incoming request as a Worker sees it; the body is read once and can be read in any form."""

    def __init__(self, url: str, method: str = "GET", headers: Any = None, body: bytes | None = None) -> None:
        self.url = url
        self.method = method.upper()
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._body = body or b""
        self.cf: dict[str, Any] = {}

    async def json(self) -> Any:
        return await self._read_json()

    async def formData(self) -> FormData:  # noqa: N802 - the Fetch API's name
        return await parse_form(self._body, self.headers.get("content-type", ""))

    form_data = formData

    @property
    def body(self) -> bytes | None:
        return self._body or None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class _StaticOrBound:
    """`Response.json(data)` builds a response; `await response.json()` reads one, as in JavaScript."""

    def __init__(self, static: str, bound: str) -> None:
        self.static, self.bound = static, bound

    def __get__(self, obj: Any, cls: type) -> Any:
        return getattr(cls, self.static) if obj is None else getattr(obj, self.bound)


class Response(Body):
    """What a Worker returns: `Response(body, status=, headers=)`, `Response.json(...)`, `Response.redirect(...)`."""

    def __init__(
        self,
        body: BodyInit = None,
        status: int = 200,
        headers: Any = None,
        status_text: str = "",
        statusText: str | None = None,
    ) -> None:  # noqa: N803 - the Fetch API's name
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(f"Response status must be an integer from 200 to 599, not {status!r}")
        self.status = status
        self.status_text = statusText if statusText is not None else status_text
        self.headers = Headers(headers)
        if body is None:
            self._body = b""
        elif isinstance(body, str):
            self._body = body.encode("utf-8")
            if "content-type" not in self.headers:
                self.headers.set("content-type", "text/plain;charset=UTF-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            self._body = bytes(body)
        else:
            raise TypeError(
                f"Response body must be str, bytes or None, not {type(body).__name__} (use Response.json(...) for data)"
            )

    @classmethod
    def _from_json(cls, data: Any, status: int = 200, headers: Any = None, **init: Any) -> Response:
        response = cls(_dump_json(data), status=status, headers=headers, **init)
        response.headers.set("content-type", "application/json")
        return response

    json = _StaticOrBound("_from_json", "_read_json")

    @classmethod
    def redirect(cls, url: str, status: int = 302) -> Response:
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"redirect status must be 301, 302, 303, 307 or 308, not {status!r}")
        return cls(None, status=status, headers={"location": str(url)})

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def body(self) -> bytes:
        return self._body

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self._body)} bytes>"


def _dump_json(data: Any) -> bytes:
    try:
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    except TypeError as e:
        raise TypeError(f"Response.json(): the data is not JSON-serializable: {e}") from None
