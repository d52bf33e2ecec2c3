"""Request, Response and Headers as Cloudflare's Python Workers SDK exposes them, over plain Python data."""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from .headers import Headers
from .streams import ReadableStream

__all__ = ["Headers", "ReadableStream"]

BodyInit = str | bytes | bytearray | memoryview | ReadableStream | None


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


class ArrayBuffer(bytes):
    """What JavaScript's ArrayBuffer is to Python Worker code here: the bytes, with `byteLength`."""

    @property
    def byteLength(self) -> int:  # noqa: N802 - JavaScript's name
        return len(self)

    def to_bytes(self) -> bytes:
        return bytes(self)

    def to_py(self) -> memoryview:
        return memoryview(self)


class Uint8Array(bytes):
    """`to_js(some_bytes)` here: the bytes, whose `.buffer` is an ArrayBuffer (Cloudflare's examples pass
    `to_js(image).buffer` as a Response body)."""

    @property
    def buffer(self) -> ArrayBuffer:
        return ArrayBuffer(self)

    @property
    def byteLength(self) -> int:  # noqa: N802 - JavaScript's name
        return len(self)

    def to_py(self) -> memoryview:
        return memoryview(self)


class Body:
    """The Fetch API's body readers, shared by Request, Response and uploaded Files; the body is held as bytes."""

    _body: bytes = b""
    _stream: ReadableStream | None = None  # a body still arriving (read whole by the first reader)

    async def _settle(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._body = await stream.read_all()

    async def bytes(self) -> bytes:
        await self._settle()
        return self._body

    async def arrayBuffer(self) -> ArrayBuffer:  # noqa: N802 - the Fetch API's name
        return ArrayBuffer(await self.bytes())

    async def buffer(self) -> ArrayBuffer:
        return ArrayBuffer(await self.bytes())

    async def blob(self) -> Blob:
        kind = getattr(self, "headers", None)
        return Blob([await self.bytes()], type=kind.get("content-type", "") if kind is not None else "")

    async def text(self) -> str:
        return (await self.bytes()).decode("utf-8", "replace")

    async def _read_json(self) -> Any:
        """The body parsed as JSON; objects allow attribute access like the JS objects on Cloudflare."""
        return js_value(json.loads(await self.bytes()))


class Blob(Body):
    """`Blob(parts, type=...)`: bytes with a MIME type; parts are str, bytes-like or other Blobs."""

    def __init__(self, parts: Iterable[Any] = (), type: str = "", **options: Any) -> None:
        chunks: list[bytes] = []
        for part in parts:
            if isinstance(part, str):
                chunks.append(part.encode("utf-8"))
            elif isinstance(part, Blob):
                chunks.append(part._body)
            elif isinstance(part, (bytes, bytearray, memoryview)):
                chunks.append(bytes(part))
            else:
                raise TypeError(f"Blob parts must be str, bytes or Blob, not {builtins.type(part).__name__}")
        self._body = b"".join(chunks)
        self.type = type.lower()

    @property
    def size(self) -> int:
        return len(self._body)

    def slice(self, start: int = 0, end: int | None = None, content_type: str = "") -> Blob:
        return Blob([self._body[start:end]], type=content_type)


class File(Blob):
    """An uploaded file (FormData's File): a Blob with a name."""

    def __init__(self, data: Any, filename: str, content_type: str = "", **options: Any) -> None:
        super().__init__(data if isinstance(data, (list, tuple)) else [data], type=content_type)
        self.name = filename


class FormData(Mapping[str, Any]):
    """Parsed form fields: strings for plain fields, File for uploads. `get(name)` returns the first value."""

    def __init__(self, fields: list[tuple[str, Any]] | None = None) -> None:
        self._fields = list(fields or [])

    def get(self, name: str, default: Any = None) -> Any:
        return next((v for k, v in self._fields if k == name), default)

    def append(self, name: str, value: Any, filename: str | None = None) -> None:
        if isinstance(value, Blob) and not isinstance(value, File):
            value = File([value], filename or "blob", value.type)
        self._fields.append((name, value))

    def set(self, name: str, value: Any, filename: str | None = None) -> None:
        self.delete(name)
        self.append(name, value, filename)

    def delete(self, name: str) -> None:
        self._fields = [(k, v) for k, v in self._fields if k != name]

    def _encode(self) -> tuple[bytes, str]:
        """The fields as a multipart/form-data body and its content type (for `Response(form_data)`)."""
        boundary = f"----workers-ai-emu-{uuid.uuid4().hex}"
        out = bytearray()
        for name, value in self._fields:
            out += f"--{boundary}\r\n".encode()
            if isinstance(value, File):
                out += (
                    f'Content-Disposition: form-data; name="{name}"; filename="{value.name}"\r\n'
                    f"Content-Type: {value.type or 'application/octet-stream'}\r\n\r\n"
                ).encode()
                out += value._body
            else:
                out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + str(value).encode()
            out += b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return bytes(out), f"multipart/form-data; boundary={boundary}"

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

    def clone(self) -> Request:
        twin = Request(self.url, self.method, Headers(self.headers.items()), self._body)
        twin.cf = dict(self.cf)
        return twin

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
        elif isinstance(body, Blob):
            self._body = body._body
            if body.type and "content-type" not in self.headers:
                self.headers.set("content-type", body.type)
        elif isinstance(body, FormData):
            self._body, content_type = body._encode()
            if "content-type" not in self.headers:
                self.headers.set("content-type", content_type)
        elif isinstance(body, ReadableStream):
            self._body, self._stream = b"", body  # sent as it arrives
        else:
            raise TypeError(
                f"Response body must be str, bytes, an ArrayBuffer, a Blob, FormData, a ReadableStream or None, not "
                f"{type(body).__name__} (use Response.json(...) for data)"
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
    def body(self) -> Any:
        """The bytes, or the ReadableStream of a body still arriving."""
        return self._stream if self._stream is not None else self._body

    def __repr__(self) -> str:
        if self._stream is not None:
            return f"<Response {self.status} streamed>"
        return f"<Response {self.status} {len(self._body)} bytes>"


def _dump_json(data: Any) -> bytes:
    try:
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    except TypeError as e:
        raise TypeError(f"Response.json(): the data is not JSON-serializable: {e}") from None
