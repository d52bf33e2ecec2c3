"""Bindings wrangler declares that this emulator does not emulate yet (KV, D1, R2, Durable Objects, ...).

Their entries are parsed (a malformed one is a config error with its line, as for any binding), the Worker starts
with one warning per key, and touching `env.<NAME>` raises BindingNotEmulated, which says what `NAME` is and where
it was declared, rather than a bare AttributeError. When a binding gets its own module, its registry line changes
from `NotEmulated(...)` to that module's kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..settings import BindingConfig
from .base import TABLE, TABLES, BindingKind, ConfigSource, EnvContext, Keys


class BindingNotEmulated(AttributeError, KeyError):
    """`env.NAME` (or `env["NAME"]`) for a declared binding of a kind this emulator does not emulate yet."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Unavailable:
    """What `build` puts on env for a binding it cannot emulate: `Env` raises `error()` when it is touched."""

    name: str
    message: str

    def error(self) -> BindingNotEmulated:
        return BindingNotEmulated(self.message, name=self.name)


@dataclass(frozen=True)
class Entries:
    """Where a key's declarations are and which field names each one's env attribute."""

    under: str | None = None  # the sub-key holding them (durable_objects.bindings, queues.producers); None: the key
    many: bool = True  # an array of tables, else one table
    field: str | None = "binding"  # the env name's field ("name" for some); None: nothing goes on env
    optional: bool = False  # the field may be absent (assets served without a binding)
    about: str = ""  # what a declaration without an env name is: "static assets", "a queue consumer"
    detail: str = ""  # and which one, from its fields when it has them: "from {directory}", "of {queue}"


class NotEmulated(BindingKind):
    """A binding kind known only by its wrangler key: parsed, warned about, an error when touched."""

    emulated = False

    def __init__(self, type: str, key: str, label: str, *entries: Entries) -> None:
        self.type, self.key, self.label = type, key, label
        self.entries = entries or (Entries(),)

    def parse(self, value: Any, source: ConfigSource) -> list[BindingConfig]:
        found: list[BindingConfig] = []
        for part in self.entries:
            keys: Keys = (self.key,)
            if part.under is not None:
                table = source.check(keys, value, TABLE)
                if table.get(part.under) is None:
                    continue
                keys, held = (*keys, part.under), table[part.under]
            else:
                held = value
            if part.many:
                for i, entry in enumerate(source.check(keys, held, TABLES)):
                    found.append(self._entry((*keys, i), entry, part, source))
            else:
                found.append(self._entry(keys, held, part, source))
        return found

    def _entry(self, keys: Keys, entry: Any, part: Entries, source: ConfigSource) -> BindingConfig:
        entry = source.check(keys, entry, TABLE)
        if part.field is not None and (part.field in entry or not part.optional):
            return self.config(self.name_of(keys, entry, source, part.field), source, (*keys, part.field))
        try:
            about = f"{part.about} {part.detail.format_map(entry)}".rstrip()
        except KeyError:  # the entry lacks the field that says which one
            about = part.about
        return self.config(None, source, keys, about)

    def build(self, config: BindingConfig, context: EnvContext) -> Unavailable:
        name = config.name
        assert name is not None  # env only gets the declarations with a name
        patch = f"patch_env({name}=...)" if name.isidentifier() else f"patch_env({{{name!r}: ...}})"
        return Unavailable(
            name,
            f"`{name}` is a {self.label} binding declared in {config.where} under `{self.key}` that this "
            f"emulator does not emulate yet (in a test, `{patch}` can put a stand-in there)",
        )

    def warning(self, configs: Sequence[BindingConfig]) -> str:
        """The one start-up line about this key's declarations."""
        named = [c.name for c in configs if c.name is not None]
        others = [c.about for c in configs if c.name is None]
        parts = []
        if named:
            plural = "s" if len(named) > 1 else ""
            parts.append(f"{self.label} binding{plural} {', '.join(named)}")
        if others:
            parts.append(", ".join(others))
        if named:
            attributes = " and ".join(", ".join(f"env.{n}" for n in named).rsplit(", ", 1))
            outcome = f"{attributes} {'raise' if len(named) > 1 else 'raises'} an error when touched"
        else:
            outcome = "ignored"
        return (
            f"{configs[0].where}: `{self.key}` declares {' and '.join(parts)}, which this emulator does not "
            f"emulate yet: {outcome}"
        )
