"""The model catalog: Workers AI names and their facts, read from `catalog.toml` plus the user's config."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from .errors import ConfigError, NoSuchModel

TASKS = ("object-detection", "image-classification")
CATALOG_FILE = Path(__file__).with_name("catalog.toml")
TASK_NAMES = {"object-detection": "Object Detection", "image-classification": "Image Classification"}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    hf_id: str | None = None
    price: Decimal = Decimal("0")
    beta: bool = False
    listed: bool = True
    description: str = ""
    source: str | None = None  # Hub repository with an ONNX export in the Hugging Face layout
    variant: str = "model.onnx"  # file under onnx/ to load (model.onnx, model_quantized.onnx, ...)
    path: Path | None = None  # a local folder in the Hugging Face layout, when configured
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def billable(self) -> bool:
        return self.price > 0


def _price(value: Any, where: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # 7.5e-06 -> Decimal("0.0000075") exactly as written
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: price {value!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise ConfigError(f"{where}: price must be a non-negative number, not {value!r}")
    return price


def entry_from_table(table: Mapping[str, Any], where: str, base: ModelEntry | None = None) -> ModelEntry:
    """Build an entry from a TOML table; fields missing from the table come from `base`."""
    known = {"name", "task", "hf_id", "price", "beta", "listed", "description", "source", "variant", "path", "defaults"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected one of {', '.join(sorted(known))})")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: every model needs a 'name'")
    values: dict[str, Any] = {}
    for key in ("task", "hf_id", "description", "source", "variant"):
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"{where}: '{key}' must be a string")
            values[key] = table[key]
    for key in ("beta", "listed"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{where}: '{key}' must be true or false")
            values[key] = table[key]
    if "price" in table:
        values["price"] = _price(table["price"], where)
    if "path" in table:
        values["path"] = Path(table["path"])
    if "defaults" in table:
        if not isinstance(table["defaults"], Mapping):
            raise ConfigError(f"{where}: 'defaults' must be a table")
        values["defaults"] = dict(table["defaults"])
    if base is not None:
        return replace(base, **values)
    if values.get("task") not in TASKS:
        raise ConfigError(
            f"{where}: model {name!r} is not in the catalog, so it needs 'task' "
            f"({' or '.join(TASKS)}), 'path' and 'price'"
        )
    return ModelEntry(name=name, **values)


class Catalog:
    """All models the emulator can serve, by Workers AI name and by Hugging Face id."""

    def __init__(self, entries: Iterable[ModelEntry]) -> None:
        self._by_name: dict[str, ModelEntry] = {}
        for entry in entries:
            self._by_name[entry.name] = entry

    @classmethod
    def load(cls, overrides: Iterable[Mapping[str, Any]] = (), where: str = "config") -> "Catalog":
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
            entries[name] = entry_from_table(table, label, base=entries.get(name))  # type: ignore[arg-type]
        return cls(entries.values())

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> ModelEntry:
        entry = self._by_name.get(name)
        if entry is None:
            raise NoSuchModel(f"No such model {name} or task")
        return entry

    def by_hf_id(self, hf_id: str) -> ModelEntry:
        for entry in self._by_name.values():
            if entry.hf_id == hf_id or entry.name == hf_id:
                return entry
        raise NoSuchModel(f"Model {hf_id} does not exist")
