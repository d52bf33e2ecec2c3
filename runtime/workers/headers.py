"""Headers as the Fetch API has them: case-insensitive, with get/has/set/append/delete."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any


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
