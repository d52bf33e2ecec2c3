"""The model catalog: Workers AI names and their facts, read from `catalog.toml` plus the user's config."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import tasks
from .entry import ModelEntry
from .errors import ConfigError, NoSuchModel, NotOfferedLocally
from .metering.units import UNITS
from .money import parse_usd

__all__ = ["Catalog", "CatalogError", "ModelEntry", "entry_from_table"]

CATALOG_FILE = Path(__file__).with_name("catalog.toml")


class CatalogError(ConfigError):
    """A catalog table is wrong: `problem` names it; `index` (of the user's [[ai.models]]) and `key`, when known,
    let runtime/config point at the line."""

    def __init__(self, where: str, problem: str, key: str | None = None, index: int | None = None) -> None:
        super().__init__(f"{where}: {problem}")
        self.problem, self.key, self.index = problem, key, index


def _price(value: Any, where: str, index: int | None, key: str = "price", what: str = "price") -> Decimal:
    try:
        return parse_usd(value)
    except TypeError:
        raise CatalogError(where, f"{what} {value!r} is not a number", key, index) from None
    except ValueError:
        raise CatalogError(where, f"{what} must be a non-negative number, not {value!r}", key, index) from None


def _unit(name: Any, where: str, index: int | None, key: str = "unit") -> str:
    if name not in UNITS:
        known = ", ".join(UNITS)
        raise CatalogError(where, f"'{key}' must be one of {known}, not {name!r}", key, index)
    return str(name)


def _prices(table: Mapping[str, Any], where: str, base: ModelEntry | None, index: int | None) -> dict[str, Any]:
    """The price fields of a table: `prices = { unit = "USD", ... }`, or the short form `price` + `unit`
    (`{unit: price}`); `price` and `unit` on the entry are the first (or only) pair. None given: nothing."""
    if "prices" in table:
        prices = table["prices"]
        if "price" in table or "unit" in table:
            raise CatalogError(where, "give either 'prices' or 'price' and 'unit', not both", "prices", index)
        if not isinstance(prices, Mapping) or not prices:
            raise CatalogError(where, "'prices' must be a table of price unit = USD", "prices", index)
        unknown = sorted(str(name) for name in prices if name not in UNITS)
        if unknown:
            raise CatalogError(
                where,
                f"unknown price unit{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in 'prices'"
                f" (expected {', '.join(UNITS)})",
                "prices",
                index,
            )
        parsed = {name: _price(value, where, index, "prices", f"prices.{name}") for name, value in prices.items()}
        unit, price = next(iter(parsed.items()))
        return {"prices": parsed, "unit": unit, "price": price}
    if "price" not in table and "unit" not in table:
        return {}
    unit = _unit(table["unit"], where, index) if "unit" in table else base.unit if base is not None else "request"
    price = _price(table["price"], where, index) if "price" in table else base.price if base is not None else Decimal(0)
    return {"prices": {unit: price}, "unit": unit, "price": price}


def entry_from_table(
    table: Mapping[str, Any], where: str, base: ModelEntry | None = None, index: int | None = None
) -> ModelEntry:
    """Build an entry from a TOML table; fields missing from the table come from `base`."""
    known = {
        "name",
        "task",
        "hf_id",
        "price",
        "prices",
        "beta",
        "listed",
        "description",
        "source",
        "variant",
        "path",
        "defaults",
        "aliases",
        "experimental",
        "max_batch",
        "unit",
        "schema",
        "revision",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise CatalogError(
            where, f"unknown key {unknown[0]!r} (expected one of {', '.join(sorted(known))})", unknown[0], index
        )
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise CatalogError(where, "every model needs a 'name'", None, index)
    values: dict[str, Any] = {}
    for key in ("task", "hf_id", "description", "source", "variant", "schema", "revision"):
        if key in table:
            if not isinstance(table[key], str):
                raise CatalogError(where, f"'{key}' must be a string", key, index)
            values[key] = table[key]
    for key in ("beta", "listed", "experimental"):
        if key in table:
            if not isinstance(table[key], bool):
                raise CatalogError(where, f"'{key}' must be true or false", key, index)
            values[key] = table[key]
    if "max_batch" in table:
        size = table["max_batch"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 64:
            raise CatalogError(where, "'max_batch' must be a whole number from 1 to 64", "max_batch", index)
        values["max_batch"] = size
    values.update(_prices(table, where, base, index))
    if "path" in table:
        values["path"] = Path(table["path"])
    if "defaults" in table:
        if not isinstance(table["defaults"], Mapping):
            raise CatalogError(where, "'defaults' must be a table", "defaults", index)
        values["defaults"] = dict(table["defaults"])
    if "aliases" in table:
        aliases = table["aliases"]
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
            raise CatalogError(where, "'aliases' must be a list of model names", "aliases", index)
        values["aliases"] = tuple(aliases)
    if base is not None:
        if "task" in values and values["task"] not in tasks.names():
            raise CatalogError(
                where, f"'task' must be one of {', '.join(tasks.names())}, not {values['task']!r}", "task", index
            )
        return replace(base, **values)
    if values.get("task") not in tasks.names():
        raise CatalogError(
            where,
            f"model {name!r} is not in the catalog, so it needs 'task' ({' or '.join(tasks.names())}), 'path' and "
            "'price'",
            None,
            index,
        )
    return ModelEntry(name=name, **values)


ELSEWHERE_FILE = Path(__file__).with_name("elsewhere.toml")
MAX_NAME_SHOWN = 200  # longer model names are cut in error messages


def shown(name: str) -> str:
    return name if len(name) <= MAX_NAME_SHOWN else f"{name[:MAX_NAME_SHOWN]}... ({len(name)} characters)"


def elsewhere() -> dict[str, str]:
    """Real Workers AI models the emulator does not run: name -> Cloudflare's task name (elsewhere.toml)."""
    global _ELSEWHERE
    if _ELSEWHERE is None:
        with ELSEWHERE_FILE.open("rb") as f:
            _ELSEWHERE = {m["name"]: m["task"] for m in tomllib.load(f).get("model", [])}
    return _ELSEWHERE


_ELSEWHERE: dict[str, str] | None = None


class Catalog:
    """All models the emulator can serve, by Workers AI name (or alias) and by Hugging Face id."""

    def __init__(self, entries: Iterable[ModelEntry]) -> None:
        self._by_name: dict[str, ModelEntry] = {}
        self._aliases: dict[str, ModelEntry] = {}
        for entry in entries:
            self._by_name[entry.name] = entry
        for entry in self._by_name.values():
            for alias in entry.aliases:
                if alias not in self._by_name:
                    self._aliases[alias] = entry

    @classmethod
    def load(cls, overrides: Iterable[Mapping[str, Any]] = (), where: str = "config") -> Catalog:
        """The built-in catalog, with the user's `[[ai.models]]` tables merged over it."""
        with CATALOG_FILE.open("rb") as f:
            data = tomllib.load(f)
        entries = {
            t["name"]: entry_from_table(t, f"{CATALOG_FILE.name} model {i + 1}")
            for i, t in enumerate(data.get("model", []))
        }
        for i, table in enumerate(overrides):
            label = f"{where}: [[ai.models]] #{i + 1}"
            name = table.get("name")
            entries[name] = entry_from_table(table, label, base=entries.get(name), index=i)
        return cls(entries.values())

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> ModelEntry:
        """The entry for a Workers AI name or alias; a real Workers AI model the emulator does not run gets an
        error saying so; any other name Cloudflare's 5007 "No such model"."""
        entry = self._by_name.get(name) or self._aliases.get(name)
        if entry is not None:
            return entry
        task = elsewhere().get(name)
        if task is not None:
            local = ", ".join(sorted(e.name for e in self._by_name.values() if e.listed))
            used = {e.task for e in self._by_name.values()}
            labels = [t.label.lower() for t in tasks.all_tasks() if t.name in used]
            kinds = " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)
            raise NotOfferedLocally(
                f"Model {name} exists on Workers AI ({task}), but this local emulator does not run it: it runs "
                f"{kinds} models ({local}). Call it on Cloudflare, or map it to a local model folder of a supported "
                f"family with [[ai.models]]"
            )
        raise NoSuchModel(f"No such model {shown(name)} or task")

    def by_hf_id(self, hf_id: str) -> ModelEntry:
        for entry in self._by_name.values():
            if entry.hf_id == hf_id or entry.name == hf_id:
                return entry
        raise NoSuchModel(f"Model {shown(hf_id)} does not exist")
