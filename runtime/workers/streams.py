"""ReadableStream: a body that arrives in pieces. `env.AI.run(..., {"stream": True})` returns one (server-sent
events, as on Cloudflare), and a Worker can hand it to `Response(stream, headers=...)` as it is, or read it with
`async for chunk in stream` or `stream.getReader()`. It can be read once; `cancel()` stops its source early."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any


class ReadableStream:
    def __init__(self, source: AsyncIterable[bytes]) -> None:
        self._source = source
        self._iterator: AsyncIterator[bytes] | None = None
        self.locked = False

    def _take(self) -> AsyncIterator[bytes]:
        if self.locked:
            raise TypeError("ReadableStream is locked: it has been read already")
        self.locked = True
        self._iterator = aiter(self._source)
        return self._iterator

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._take()

    def getReader(self) -> ReadableStreamReader:  # noqa: N802 - the Streams API's name
        return ReadableStreamReader(self._take(), self)

    async def read_all(self) -> bytes:
        return b"".join([bytes(chunk) async for chunk in self._take()])

    async def cancel(self, reason: Any = None) -> None:
        """Stop the source (a streamed inference stops at its next event and is billed for what it sent)."""
        iterator = self._iterator if self._iterator is not None else aiter(self._source)
        self.locked = True
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()

    def __repr__(self) -> str:
        return f"<ReadableStream{' (locked)' if self.locked else ''}>"


class ReadableStreamReader:
    """`stream.getReader()`: `await reader.read()` gives `{"done": False, "value": chunk}`, then `{"done": True}`."""

    def __init__(self, iterator: AsyncIterator[bytes], stream: ReadableStream) -> None:
        self._iterator = iterator
        self._stream = stream

    async def read(self) -> dict[str, Any]:
        try:
            chunk = await anext(self._iterator)
        except StopAsyncIteration:
            return {"done": True, "value": None}
        return {"done": False, "value": bytes(chunk)}

    async def cancel(self, reason: Any = None) -> None:
        await self._stream.cancel(reason)

    def releaseLock(self) -> None:  # noqa: N802 - the Streams API's name
        pass
