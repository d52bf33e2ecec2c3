"""Exact money, the one place it is defined: USD as `Decimal` (never a float), and the integer pico-dollars
(10^-12 USD) the ledger keeps beside each cost so that SQL can add them exactly. A leaf: standard library only."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal("0")
PICO_PLACES = 12  # cost_pico = cost × 10^12
PICO = Decimal("1e-12")
INT64_MAX = 2**63 - 1  # the largest pico-dollar count an integer column holds


def to_pico(amount: Decimal) -> int | None:
    """Exact integer pico-dollars, or None when the amount has finer digits (or is too large) for that."""
    scaled = amount.scaleb(PICO_PLACES)
    if scaled != scaled.to_integral_value() or abs(scaled) > INT64_MAX:
        return None
    return int(scaled)


def from_pico(pico: int | Decimal) -> Decimal:
    return Decimal(pico).scaleb(-PICO_PLACES)


def parse_usd(v: Any) -> Decimal:
    """An exact amount of USD from a number or a decimal string (floats by their shortest repr: 7.5e-06 is
    Decimal("0.0000075")). The one price parser: budgets (settings.py), catalog prices (catalog.py)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise TypeError("a number (USD)")
    try:
        d = Decimal(repr(v) if isinstance(v, float) else str(v))
    except InvalidOperation:
        raise TypeError("a number (USD)") from None
    if not d.is_finite() or d < 0:
        raise ValueError("a non-negative amount")
    return d


def usd_text(amount: Decimal) -> str:
    """A decimal string without exponent or trailing noise, with at least cents: 7.5 -> '7.50'."""
    text = format(amount.normalize(), "f") if amount else "0"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"
