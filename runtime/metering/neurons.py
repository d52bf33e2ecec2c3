"""The bill as Cloudflare computes it: Workers AI charges neurons, $0.011 per 1,000 (a setting), with 10,000
neurons free per day on every plan (a setting), reset at 00:00 UTC.

A model's neurons per request are derived from its listed unit price (price × 1,000 / neuron price: detr-resnet-50
at $0.0000075 is 0.6818… neurons). The ledger keeps the list price of every request; from it, per UTC day:
neurons used, the free allocation, and the billable remainder. Money stays exact: the day's bill is
max(0, list-price spend − free neurons × neuron price / 1,000), all in Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..money import ZERO
from ..money import usd_text as money

NEURON_DIGITS = Decimal("0.000001")  # neurons are shown to 6 decimals; money is never rounded


@dataclass(frozen=True)
class Plan:
    price_per_1000: Decimal = Decimal("0.011")
    free_per_day: int = 10_000

    @classmethod
    def of(cls, settings: Any) -> Plan:
        """The plan an EmulatorSettings describes (`neuron_price_usd_per_1000`, `free_neurons_per_day`)."""
        return cls(settings.neuron_price_usd_per_1000, settings.free_neurons_per_day)

    def neurons(self, usd: Decimal) -> Decimal:
        """The neurons a list-price amount stands for (exact to 28 digits; shown rounded)."""
        return usd * 1000 / self.price_per_1000

    @property
    def free_usd(self) -> Decimal:
        return self.free_per_day * self.price_per_1000 / 1000

    def bill(self, list_usd: Decimal) -> Decimal:
        """One UTC day's charge for `list_usd` of list-price spend, after the free allocation."""
        return max(ZERO, list_usd - self.free_usd)


@dataclass(frozen=True)
class DayBill:
    day: str
    requests: int
    list_usd: Decimal
    neurons: Decimal
    billable_neurons: Decimal
    bill_usd: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "requests": self.requests,
            "list_usd": money(self.list_usd),
            "neurons": str(self.neurons.quantize(NEURON_DIGITS)),
            "billable_neurons": str(self.billable_neurons.quantize(NEURON_DIGITS)),
            "bill_usd": money(self.bill_usd),
        }


def day_bills(rows: list[tuple[str, int, Decimal]], plan: Plan) -> list[DayBill]:
    """`rows`: (UTC day, billed requests, their list-price spend), one per day."""
    out = []
    for day, requests, list_usd in rows:
        neurons = plan.neurons(list_usd)
        out.append(
            DayBill(day, requests, list_usd, neurons, max(ZERO, neurons - plan.free_per_day), plan.bill(list_usd))
        )
    return out


def bill_json(bills: list[DayBill], plan: Plan) -> dict[str, Any]:
    return {
        "neuron_price_usd_per_1000": format(plan.price_per_1000.normalize(), "f"),
        "free_neurons_per_day": plan.free_per_day,
        "list_usd": money(sum((b.list_usd for b in bills), ZERO)),
        "bill_usd": money(sum((b.bill_usd for b in bills), ZERO)),
        "days": [b.as_json() for b in bills],
    }


def project(per_day_usd: Decimal, requests_per_day: int, plan: Plan, days: int = 30) -> dict[str, Any]:
    """Daily and monthly cost of a steady daily volume, at list price and as billed after the free allocation."""
    bill = plan.bill(per_day_usd)
    return {
        "requests_per_day": requests_per_day,
        "per_day_list_usd": money(per_day_usd),
        "per_day_bill_usd": money(bill),
        "per_month_list_usd": money(per_day_usd * days),
        "per_month_bill_usd": money(bill * days),
        "neurons_per_day": str(plan.neurons(per_day_usd).quantize(NEURON_DIGITS)),
        "free_neurons_per_day": plan.free_per_day,
        "month_days": days,
    }
