"""Value checkers for settings and config entries: each converts a config value or raises TypeError("a ...") /
ValueError("..."); runtime/settings.py declares the `[emulator]` keys with them, and bindings check their entries."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .money import parse_usd


@dataclass(frozen=True)
class Check:
    """A config value's type and range: `convert(value)` returns the typed value or raises; `label` documents."""

    label: str
    convert: Callable[[Any], Any]

    def __call__(self, value: Any) -> Any:
        return self.convert(value)


def integer(minimum: int, maximum: int | None = None) -> Check:
    def convert(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("an integer")
        if v < minimum or (maximum is not None and v > maximum):
            raise ValueError(f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}")
        return v

    label = f"integer {minimum}–{maximum}" if maximum is not None else f"integer ≥ {minimum}"
    return Check(label, convert)


def number(minimum: float, strict: bool = False) -> Check:
    def convert(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError("a number")
        if v < minimum or (strict and v == minimum) or v != v:
            raise ValueError(f"greater than {minimum:g}" if strict else f"at least {minimum:g}")
        try:
            value = float(v)
        except OverflowError:  # an integer beyond any float
            value = math.inf
        if math.isinf(value):
            raise ValueError("a finite number")
        return value

    return Check(f"number {'>' if strict else '≥'} {minimum:g}", convert)


def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("a string")
    return v


def _boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("true or false")
    return v


def choice(*choices: str) -> Check:
    def convert(v: Any) -> str:
        if not isinstance(v, str):
            raise TypeError("a string")
        if v not in choices:
            raise ValueError(" or ".join(repr(c) for c in choices))
        return v

    return Check(" or ".join(f'`"{c}"`' for c in choices), convert)


def _faults(v: Any) -> list[dict[str, Any]]:
    from .faults import FaultSpecError, Rule

    if not isinstance(v, list):
        raise TypeError("a list of [[emulator.faults]] tables")
    for i, table in enumerate(v):
        try:
            Rule.from_table(table)
        except FaultSpecError as e:
            raise ValueError(f"fault tables (fault #{i + 1}: {e})") from None
    return [dict(t) for t in v]


STRING = Check("string", _string)
BOOLEAN = Check("boolean", _boolean)
USD = Check("number or string (USD)", parse_usd)
PATH = Check("string (a folder)", lambda v: Path(_string(v)))
FAULTS = Check("array of tables", _faults)
LEDGER = Check("string (a file path or postgresql:// URL)", _string)
