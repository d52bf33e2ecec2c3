"""Cost reports over the ledger: totals, breakdowns, a spend timeline and a monthly projection.

Shared by `workers-ai-emu costs`, `GET /cdn-cgi/emu/costs` and the dashboard, so all three agree to the digit.
Sums are exact: the database adds the integer pico-dollar column, and the rare cost too fine for it is added here
as a Decimal. Counting and summing happen in SQL, the same SQL on both ledger backends (SQLite, PostgreSQL), so a
report over 100k rows takes milliseconds. Each group also sums its billed usage by quantity (`usage`, e.g.
{"audio-ms": 61234, "request": 3}), whatever units the models bill by; `audio_minutes` stays beside it as before.
`instance` narrows a report to one emulator of a shared ledger.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..money import ZERO, from_pico
from ..money import usd_text as money
from .ledger import BILLED, Ledger, Reader, time_text
from .neurons import DayBill, Plan, bill_json, day_bills

DIMENSIONS = {  # --by choice -> SQL expression for its key
    "model": "model",
    "day": "substr(time, 1, 10)",
    "route": "route",
    "source": "source",
    "weights": "weights",  # real | stand-in:<name> (NULL: no model ran)
    "instance": "instance",  # which emulator wrote the row (a ledger shared by many)
}
TIMELINE_STEPS = (  # (name, key length in the ISO text, step) from finest; the first giving <= 90 buckets wins
    ("minute", 16, timedelta(minutes=1)),
    ("hour", 13, timedelta(hours=1)),
    ("day", 10, timedelta(days=1)),
)
MONTH = timedelta(days=30)
MIN_PROJECTION_SPAN = timedelta(minutes=1)  # less traffic than this says nothing about a month


class ReportError(ValueError):
    """A bad report parameter; the message is meant for the user."""


def parse_when(text: str | None, *, end: bool = False) -> str | None:
    """An ISO date or datetime as ledger time text. Naive times are UTC.

    A bare date as `until` means the whole of that day (the bound becomes the next midnight).
    """
    if text is None or text == "":
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return (day + timedelta(days=1) if end else day).isoformat()
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise ReportError(
            f"{'until' if end else 'since'}: {text!r} is not an ISO date (2024-05-01) "
            "or datetime (2024-05-01T12:00:00Z)"
        ) from None
    return time_text(when)


@dataclass
class Group:
    key: str | None
    requests: int = 0
    billed_requests: int = 0
    errors: int = 0
    cache_hits: int = 0
    cost: Decimal = ZERO
    mean_latency_ms: float | None = None
    usage: dict[str, int] = field(default_factory=dict)  # billed usage by quantity: {"audio-ms": 61234, ...}

    @property
    def audio_minutes(self) -> float:
        """Speech: the billed audio in minutes (kept from before usage was generic; `usage` has "audio-ms")."""
        return round(self.usage.get("audio-ms", 0) / 60_000, 4)

    def as_json(self, name: str) -> dict[str, Any]:
        return {
            name: self.key,
            "requests": self.requests,
            "billed_requests": self.billed_requests,
            "errors": self.errors,
            "cache_hits": self.cache_hits,
            "cost_usd": money(self.cost),
            "mean_latency_ms": _round(self.mean_latency_ms),
            "audio_minutes": self.audio_minutes,
            "usage": dict(sorted(self.usage.items())),
        }


@dataclass
class Projection:
    """Monthly cost at the recorded rate: cost ÷ (last − first request time) × 30 days."""

    monthly: Decimal | None
    span_seconds: float
    per_second: Decimal | None

    def as_json(self) -> dict[str, Any]:
        return {
            "monthly_usd": money(self.monthly) if self.monthly is not None else None,
            "usd_per_second": format(self.per_second.normalize(), "f") if self.per_second is not None else None,
            "span_seconds": round(self.span_seconds, 3),
            "method": "total cost / seconds from the first to the last request in the window x 30 days "
            "(2,592,000 s); null when the requests span less than a minute",
            "basis": (
                f"the recorded rate over {self.span_seconds:.0f} s of traffic, extrapolated linearly to 30 days"
                if self.monthly is not None
                else "none: less than a minute of traffic says nothing about a month "
                "(see: workers-ai-emu costs project)"
            ),
        }


@dataclass
class Report:
    since: str | None
    until: str | None
    by: str
    total: Group
    by_model: list[Group]
    breakdown: list[Group]
    first: str | None
    last: str | None
    projection: Projection
    timeline_step: str
    timeline: list[Group] = field(default_factory=list)
    bills: list[DayBill] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)
    instance: str | None = None  # the report covers only this emulator's rows (None: every instance's)
    instances: list[str] = field(default_factory=list)  # the instances that wrote rows to this ledger

    def as_json(self) -> dict[str, Any]:
        t = self.total
        return {
            "total_usd": money(t.cost),
            "requests": t.requests,
            "billed_requests": t.billed_requests,
            "errors": t.errors,
            "cache_hits": t.cache_hits,
            "mean_latency_ms": _round(t.mean_latency_ms),
            "audio_minutes": t.audio_minutes,
            "usage": dict(sorted(t.usage.items())),
            "since": self.since,
            "until": self.until,
            "first_request_at": self.first,
            "last_request_at": self.last,
            "by_model": [g.as_json("model") for g in self.by_model],
            "by": self.by,
            "breakdown": [g.as_json(self.by) for g in self.breakdown],
            "projection": self.projection.as_json(),
            "timeline_step": self.timeline_step,
            "timeline": [g.as_json("start") for g in self.timeline],
            "cloudflare_bill": bill_json(self.bills, self.plan),
            "instance": self.instance,
            "instances": self.instances,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _where(since: str | None, until: str | None, instance: str | None = None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if instance is not None:
        clauses.append("instance = ?")
        params.append(instance)
    if since is not None:
        clauses.append("time >= ?")
        params.append(since)
    if until is not None:
        clauses.append("time < ?")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _groups(db: Reader, key: str, where: str, params: list[str]) -> list[Group]:
    """Per-key counts and exact sums; rows whose cost is too fine for pico-dollars are added as Decimals; billed
    usage summed per quantity (rows without usage add nothing)."""
    rows = db.all(
        f"SELECT {key} AS k, COUNT(*), SUM(CASE WHEN {BILLED} THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), SUM(cache_hit), SUM(cost_pico), AVG(latency_ms)"
        f" FROM requests{where} GROUP BY {key} ORDER BY {key}",
        params,
    )
    groups = {
        k: Group(k, int(n), int(billed or 0), int(errs or 0), int(hits or 0), from_pico(pico or 0), lat)
        for k, n, billed, errs, hits, pico, lat in rows
    }
    also = " AND" if where else " WHERE"
    for k, cost in db.all(f"SELECT {key}, cost FROM requests{where}{also} cost_pico IS NULL", params):
        groups[k].cost += Decimal(cost)
    for k, quantity, amount in db.all(
        f"SELECT {key}, u.key, SUM(CAST(u.value AS BIGINT)) FROM requests, {db.usage_each} AS u{where}{also} {BILLED}"
        f" GROUP BY {key}, u.key",
        params,
    ):
        groups[k].usage[str(quantity)] = int(amount)
    return list(groups.values())


def _total(groups: list[Group]) -> Group:
    """The sum of a breakdown (saves a scan): counts and costs add, mean latency is weighted by requests."""
    total = Group(None)
    weighted = 0.0
    for g in groups:
        total.requests += g.requests
        total.billed_requests += g.billed_requests
        total.errors += g.errors
        total.cache_hits += g.cache_hits
        total.cost += g.cost
        for quantity, amount in g.usage.items():
            total.usage[quantity] = total.usage.get(quantity, 0) + amount
        weighted += (g.mean_latency_ms or 0.0) * g.requests
    total.mean_latency_ms = weighted / total.requests if total.requests else None
    return total


def _projection(cost: Decimal, first: str | None, last: str | None) -> Projection:
    if first is None or last is None:
        return Projection(None, 0.0, None)
    span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
    micros = span // timedelta(microseconds=1)
    if micros <= 0:
        return Projection(None, 0.0, None)
    if span < MIN_PROJECTION_SPAN:
        return Projection(None, micros / 1e6, None)
    per_second = cost * 1_000_000 / micros
    monthly = (cost * (MONTH // timedelta(microseconds=1)) / micros).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
    return Projection(monthly, micros / 1e6, per_second.quantize(Decimal("1e-15"), ROUND_HALF_EVEN))


def _timeline_step(first: str | None, last: str | None) -> tuple[str, int]:
    if first is None or last is None:
        return "minute", 16
    span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
    for name, width, step in TIMELINE_STEPS:
        if span <= step * 90:
            return name, width
    return "day", 10


def build_report(
    ledger: Ledger,
    since: str | None = None,
    until: str | None = None,
    by: str = "model",
    plan: Plan | None = None,
    instance: str | None = None,
) -> Report:
    """One consistent snapshot of the ledger (a single read transaction) between `since` and `until`.

    `since`/`until` are ISO dates or datetimes as the user typed them (see parse_when); bad ones raise
    ReportError, as does an unknown `by`.
    """
    if by not in DIMENSIONS:
        raise ReportError(f"by: {by!r} is not one of {', '.join(DIMENSIONS)}")
    lo, hi = parse_when(since), parse_when(until, end=True)
    if lo is not None and hi is not None and lo >= hi:
        raise ReportError(f"since ({since}) must be before until ({until})")
    where, params = _where(lo, hi, instance)
    with ledger.snapshot() as db:  # one snapshot: totals and breakdowns see the same rows
        first, last = db.one(f"SELECT MIN(time), MAX(time) FROM requests{where}", params)
        by_model = _groups(db, DIMENSIONS["model"], where, params)
        breakdown = by_model if by == "model" else _groups(db, DIMENSIONS[by], where, params)
        step, width = _timeline_step(first, last)
        timeline = _groups(db, f"substr(time, 1, {width})", where, params)
        days = _groups(db, DIMENSIONS["day"], where, params)
        instances = [r[0] for r in db.all("SELECT DISTINCT instance FROM requests WHERE instance IS NOT NULL")]
    total = _total(by_model)
    by_model.sort(key=lambda g: (-g.cost, -g.requests, g.key or ""))
    if by in ("model", "route", "source", "weights", "instance"):
        breakdown.sort(key=lambda g: (-g.cost, -g.requests, g.key or ""))
    return Report(
        since=lo,
        until=hi,
        by=by,
        total=total,
        by_model=by_model,
        breakdown=breakdown,
        first=first,
        last=last,
        projection=_projection(total.cost, first, last),
        timeline_step=step,
        timeline=timeline,
        bills=day_bills([(str(g.key), g.billed_requests, g.cost) for g in days], plan or Plan()),
        plan=plan or Plan(),
        instance=instance,
        instances=sorted(instances),
    )


def report_json(
    ledger: Ledger,
    since: str | None = None,
    until: str | None = None,
    by: str = "model",
    budget: dict[str, Any] | None = None,
    plan: Plan | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """The JSON object that the CLI (`--format json`) and `GET /cdn-cgi/emu/costs` both print."""
    out = build_report(ledger, since, until, by, plan, instance).as_json()
    out["budget"] = budget
    return out


class ReportCache:
    """The last few report objects, keyed by their parameters and the ledger's newest row id.

    Rows are append-only, so an unchanged newest id means an unchanged report: a dashboard left open on an
    idle emulator costs one O(1) query per poll instead of a scan of the whole ledger.
    """

    def __init__(self, ledger: Ledger, size: int = 8, plan: Plan | None = None) -> None:
        self.ledger = ledger
        self.size = size
        self.plan = plan
        self._items: dict[tuple[str | None, str | None, str, str | None], tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(
        self, since: str | None = None, until: str | None = None, by: str = "model", instance: str | None = None
    ) -> dict[str, Any]:
        key = (since, until, by, instance)
        newest = self.ledger.newest_id()  # read before the report: a report never claims rows it lacks
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] == newest:
            return copy.deepcopy(hit[1])
        data = report_json(self.ledger, since, until, by, plan=self.plan, instance=instance)
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (newest, data)
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))
        return copy.deepcopy(data)


def budget_status(ledger: Ledger, budget_usd_per_day: Decimal | None) -> dict[str, Any] | None:
    """Today's (UTC) spend against the daily budget, in the shape `InferenceService.budget_status` uses."""
    if budget_usd_per_day is None:
        return None
    spent = ledger.spent_on(datetime.now(UTC).date().isoformat())
    return {
        "budget_usd_per_day": money(budget_usd_per_day),
        "spent_today_usd": money(spent),
        "exceeded": spent >= budget_usd_per_day,
    }
