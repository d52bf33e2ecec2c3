"""What a binding declares: its wrangler key, how it parses its entries from the config, how it builds the object
put on `env`. The registry (`__init__.py`) lists the bindings; `env.py` builds `env` from them.

A binding never imports the config loader: it reads its entries through `ConfigSource` (runtime/config's
`Source`), whose errors name the file and the line, and checks values with the settings checkers.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError
from ..settings import STRING, BindingConfig, Check, Settings

if TYPE_CHECKING:
    from ..service import InferenceService

# Set by the Worker door for the duration of one request: its path (the ledger's `route`).
CURRENT_ROUTE: ContextVar[str | None] = ContextVar("current_route", default=None)

Keys = tuple[str | int, ...]  # a value's place in the config: ("kv_namespaces", 0, "binding")


class ConfigSource(Protocol):
    """The config file as a binding reads it (runtime/config's Source)."""

    path: Path

    def where(self, *keys: str | int) -> str:
        """`file:line` of the key (of its closest enclosing key), or just the file."""
        ...

    def error(self, keys: Keys, problem: str, at: Keys | None = None) -> ConfigError:
        """`file:line: dotted.key: problem` (the line of `at` when given: a sibling of a missing key)."""
        ...

    def check(self, keys: Keys, value: Any, check: Check) -> Any:
        """The value checked and converted by a settings checker, or its ConfigError."""
        ...

    def unknown(self, keys: Keys, known: Sequence[str]) -> ConfigError:
        """The error for an unknown key, with a "did you mean" hint."""
        ...


def _table(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise TypeError("a table")
    return v


def _tables(v: Any) -> list[dict[str, Any]]:
    if not isinstance(v, list):
        raise TypeError("an array of tables")
    return v


TABLE = Check("table", _table)
TABLES = Check("array of tables", _tables)


@dataclass(frozen=True)
class EnvContext:
    """What a binding's object may use: the one inference service, the Worker's name, its settings."""

    service: InferenceService
    worker: str
    settings: Settings


class BindingKind:
    """One kind of binding (one module each, as miniflare has one plugin each). Subclasses set `type`, `key` and
    `label` and implement `parse` and `build`; the registry (`__init__.py`) lists one instance of each."""

    type: str  # its name in the registry: "ai", "kv", ...
    key: str  # the wrangler key that declares it: "ai", "kv_namespaces", ...
    label: str  # what messages call one: "AI", "KV namespace", ...
    emulated: bool = True  # False: declared, warned about at start, an error when touched (unemulated.py)

    def parse(self, value: Any, source: ConfigSource) -> list[BindingConfig]:
        """The bindings `value` (the config's value under `key`) declares; ConfigError (with file:line) if wrong."""
        raise NotImplementedError

    def build(self, config: BindingConfig, context: EnvContext) -> Any:
        """The object the Worker finds at `env.<config.name>`."""
        raise NotImplementedError

    def name_of(self, keys: Keys, entry: dict[str, Any], source: ConfigSource, field: str = "binding") -> str:
        """The entry's env name (its `binding` field): a string, else a ConfigError at its line."""
        if field not in entry:
            at = (*keys, next(iter(entry))) if entry else keys  # the entry's first key: the right table's line
            raise source.error(keys, f"needs '{field}' (the name the Worker finds it by on env)", at)
        return str(source.check((*keys, field), entry[field], STRING))

    def config(self, name: str | None, source: ConfigSource, keys: Keys, about: str = "") -> BindingConfig:
        return BindingConfig(type=self.type, key=self.key, name=name, where=source.where(*keys), about=about)

    def __repr__(self) -> str:
        return f"<{self.label} bindings ({self.key})>"
