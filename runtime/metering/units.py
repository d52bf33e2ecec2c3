"""Usage in units, billing by unit: what a request used (its usage), and what a model's prices make of it.

A request's *usage* maps usage quantities to whole amounts: `{"request": 1}` for an image, `{"audio-ms": 61234}`
for a recording (its decoded duration in milliseconds). A model's *prices* (catalog `prices`, or `price` + `unit`)
map price units to USD: `{"audio-minute": Decimal("0.00045")}`. Each price unit names the quantity it prices and
how many of it make one unit (an audio minute is 60,000 audio-ms), and how model listings say it.

cost_of is exact, every step a Decimal or a fraction, never a float: the sum of price × quantity ÷ per over the
priced units (a quantity the usage lacks counts 0). A sum of whole multiples of prices (units of `per` 1, such as
"request") stands as it is, with the price's own digits: $0.0000075 a request costs Decimal("0.0000075"). A sum
that divides (`per` > 1) is rounded half-up to 12 places, a pico-dollar: round(price × ms / 60,000, 12).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, localcontext
from fractions import Fraction

from ..money import PICO_PLACES, ZERO

Usage = Mapping[str, int]  # usage quantity -> amount, e.g. {"audio-ms": 61234}, {"request": 1}
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # sums and products of Decimals, never rounded


@dataclass(frozen=True)
class Unit:
    name: str  # the price unit a catalog entry names: "request", "audio-minute", "million-input-tokens"
    quantity: str  # the usage quantity it prices: "request", "audio-ms", "input-token"
    per: int  # quantities per priced unit: 1, 60_000, 1_000_000
    label: str  # how listings say it: "per inference request", "per audio minute", "per M input tokens"


UNITS: dict[str, Unit] = {}


def register_unit(unit: Unit) -> None:
    """Add a price unit (a task may bill by its own quantity). Registering the same unit again is harmless; a
    different unit under a registered name is refused."""
    if not unit.name or not unit.quantity:
        raise ValueError("a unit needs a name and the quantity it prices")
    if isinstance(unit.per, bool) or not isinstance(unit.per, int) or unit.per < 1:
        raise ValueError(f"unit {unit.name!r}: 'per' must be a whole number of at least 1, not {unit.per!r}")
    known = UNITS.get(unit.name)
    if known is not None and known != unit:
        raise ValueError(f"unit {unit.name!r} is already registered as {known}")
    UNITS[unit.name] = unit


for _unit in (
    Unit("request", "request", 1, "per inference request"),
    Unit("audio-minute", "audio-ms", 60_000, "per audio minute"),
    Unit("million-input-tokens", "input-token", 1_000_000, "per M input tokens"),
    Unit("million-output-tokens", "output-token", 1_000_000, "per M output tokens"),
):
    register_unit(_unit)


def unit_named(name: str) -> Unit:
    unit = UNITS.get(name)
    if unit is None:
        raise ValueError(f"unknown price unit {name!r} (known: {', '.join(sorted(UNITS))})")
    return unit


def cost_of(prices: Mapping[str, Decimal], usage: Usage) -> Decimal:
    """What `usage` costs at `prices` (price unit name -> USD per unit), exactly (see the module's docstring)."""
    whole = ZERO
    divided = Fraction(0)
    divides = False
    with localcontext(EXACT):
        for name, price in prices.items():
            unit = unit_named(name)
            amount = usage.get(unit.quantity, 0)
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise ValueError(f"usage {unit.quantity!r} must be a whole number of at least 0, not {amount!r}")
            if not amount:
                continue
            if unit.per == 1:
                whole += price * amount
            else:
                divided += Fraction(price) * amount / unit.per
                divides = True
        if not divides:
            return whole
        pico = (Fraction(whole) + divided) * 10**PICO_PLACES
        rounded = math.floor(abs(pico) + Fraction(1, 2))  # half-up: halves away from zero
        return Decimal(rounded if pico >= 0 else -rounded).scaleb(-PICO_PLACES)


def usage_text(usage: Usage) -> str:
    """`{"audio-ms": 61234, "request": 2}` -> "61,234 audio-ms, 2 request" (quantities in name order)."""
    return ", ".join(f"{amount:,} {quantity}" for quantity, amount in sorted(usage.items()))
