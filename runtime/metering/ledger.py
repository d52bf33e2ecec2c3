"""The ledger: one committed row per inference request, written before its response is sent.

One interface, two backends:
- `Ledger(path)` opens the embedded SQLite file (metering/sqlite_ledger.py), the default: `<state_dir>/ledger.sqlite3`;
- `Ledger("postgresql://user@host/db")` opens a PostgreSQL database (metering/postgres_ledger.py), which any number
  of emulators on any number of machines can share (`[emulator] ledger = "postgresql://..."`).

Both keep the same schema versions (v1 to v5, migrated forward when opened), the same columns, exact money
(SQLite: decimal text plus integer pico-dollars; PostgreSQL: NUMERIC plus the same pico-dollars) and the same
order guarantee: row ids grow in commit order, so "rows after id N" and "the newest id" mean the same on both.
Reports (metering/report.py) and metrics run the same SQL on either through `snapshot()`.
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

WRITE_DELAY_ENV = "WORKERS_AI_EMU_TEST_LEDGER_WRITE_DELAY_S"
PICO = 12  # cost_pico = cost × 10^12
INT64_MAX = 2**63 - 1
ZERO = Decimal("0")
SCHEMA_VERSION = 6  # both backends' migrations end here (tests check they agree)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_pico(amount: Decimal) -> int | None:
    """Exact integer pico-dollars, or None when the amount has finer digits (or is too large) for that."""
    scaled = amount.scaleb(PICO)
    if scaled != scaled.to_integral_value() or abs(scaled) > INT64_MAX:
        return None
    return int(scaled)


def from_pico(pico: int | Decimal) -> Decimal:
    return Decimal(pico).scaleb(-PICO)


def time_text(when: datetime) -> str:
    """The one timestamp format in the ledger: UTC ISO 8601 with microseconds, so text order is time order."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def is_postgres(target: str | os.PathLike[str]) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


class LedgerError(Exception):
    """The ledger cannot be used (written by a newer version, not a ledger, or its database is unreachable)."""


@dataclass(frozen=True)
class LedgerRecord:
    request_id: str
    source: str  # binding | rest | hf | cli
    model: str
    unit_price: Decimal
    cost: Decimal
    latency_ms: float
    outcome: str  # "ok" or "error:<cloudflare code>"
    units: int = 1
    cache_hit: bool = False
    worker: str | None = None
    route: str | None = None
    weights: str | None = None  # "real", or "stand-in:<name>" when a bundled stand-in answered; None if none ran
    metadata: str | None = None  # AI Gateway metadata given with the request, as JSON
    tags: str | None = None  # the request's `tags` option (runtime/runoptions.py), as a JSON array
    instance: str | None = None  # which emulator wrote the row ([emulator] instance), for ledgers shared by many
    audio_ms: int | None = None  # speech: the audio's duration in milliseconds (what a per-minute price bills)
    time: datetime = field(default_factory=utcnow)


COLUMNS = (
    "id",
    "time",
    "request_id",
    "source",
    "worker",
    "route",
    "model",
    "units",
    "unit_price",
    "cost",
    "latency_ms",
    "cache_hit",
    "outcome",
    "weights",
    "metadata",
    "tags",
    "instance",
    "audio_ms",
)
INSERT_COLUMNS = (
    "time, request_id, source, worker, route, model, units, unit_price, cost, cost_pico, latency_ms, cache_hit,"
    " outcome, weights, metadata, tags, instance, audio_ms"
)
INSERT_COUNT = INSERT_COLUMNS.count(",") + 1


class Reader(abc.ABC):
    """One consistent read view of the ledger for reports: SQL with `?` placeholders, run the same on both."""

    @abc.abstractmethod
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        rows = self.all(sql, params)
        return rows[0] if rows else ()


class Ledger(abc.ABC):
    """`Ledger(target)` opens the backend the target names: a `postgresql://` URL, else a SQLite file path
    (or ":memory:"). Thread-safe; `record` commits its row before returning."""

    path: Path | None = None  # the SQLite file (None for PostgreSQL and in-memory ledgers)
    migrated_from: int = 0
    write_delay_s: float = 0.0

    def __new__(cls, target: str | os.PathLike[str] = ":memory:", *args: Any, **kwargs: Any) -> Ledger:
        return super().__new__(backend_for(target) if cls is Ledger else cls)

    def _write_delay(self) -> float:
        # A test seam, off unless set: hold each write this long before committing, so tests can show that an
        # answer never leaves before its row is committed (tests/test_ledger_ordering.py).
        return float(os.environ.get(WRITE_DELAY_ENV) or 0)  # pragma: no mutate (a test seam, not behaviour)

    @property
    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the rows live, safe to show (a PostgreSQL URL without its password)."""

    @abc.abstractmethod
    def record(self, rec: LedgerRecord) -> None: ...

    @abc.abstractmethod
    def spent_on(self, day: str) -> Decimal:
        """Total cost of one UTC day (YYYY-MM-DD), exact."""

    @abc.abstractmethod
    def snapshot(self) -> contextlib.AbstractContextManager[Reader]:
        """A Reader over one consistent snapshot (a read transaction)."""

    def latest(self, limit: int = 50) -> list[dict[str, object]]:
        """The newest rows, newest first, as plain dicts (costs as decimal strings)."""
        with self.snapshot() as db:
            rows = db.all(f"SELECT {', '.join(COLUMNS)} FROM requests ORDER BY id DESC LIMIT ?", (limit,))
        return [self._row(row) for row in rows]

    def rows_after(self, row_id: int) -> list[dict[str, object]]:
        """Rows newer than `row_id`, oldest first, as plain dicts (costs as decimal strings)."""
        with self.snapshot() as db:
            rows = db.all(f"SELECT {', '.join(COLUMNS)} FROM requests WHERE id > ? ORDER BY id", (row_id,))
        return [self._row(row) for row in rows]

    def newest_id(self) -> int:
        """The id of the newest row (0 when empty): ids grow in commit order, so it changes exactly when rows
        are added."""
        with self.snapshot() as db:
            return int(db.one("SELECT MAX(id) FROM requests")[0] or 0)

    def count(self) -> int:
        with self.snapshot() as db:
            return int(db.one("SELECT COUNT(*) FROM requests")[0])

    def instances(self) -> list[str]:
        """The emulator instances that wrote rows (NULL, from before instance ids, is left out)."""
        with self.snapshot() as db:
            return [r[0] for r in db.all("SELECT DISTINCT instance FROM requests WHERE instance IS NOT NULL")]

    @staticmethod
    def _row(row: Sequence[Any]) -> dict[str, object]:
        item = dict(zip(COLUMNS, row))
        item["cache_hit"] = bool(item["cache_hit"])
        for money in ("unit_price", "cost"):
            item[money] = str(item[money])
        return item

    @staticmethod
    def _values(rec: LedgerRecord) -> tuple[Any, ...]:
        """The INSERT_COLUMNS values of a record (money passed as Decimal text; each backend stores it exactly)."""
        return (
            time_text(rec.time),
            rec.request_id,
            rec.source,
            rec.worker,
            rec.route,
            rec.model,
            rec.units,
            str(rec.unit_price),
            str(rec.cost),
            to_pico(rec.cost),
            rec.latency_ms,
            int(rec.cache_hit),
            rec.outcome,
            rec.weights,
            rec.metadata,
            rec.tags,
            rec.instance,
            rec.audio_ms,
        )

    @abc.abstractmethod
    def close(self) -> None: ...


def backend_for(target: str | os.PathLike[str]) -> type[Ledger]:
    if is_postgres(target):
        from .postgres_ledger import PostgresLedger

        return PostgresLedger
    from .sqlite_ledger import SQLiteLedger

    return SQLiteLedger


def open_ledger(target: str | os.PathLike[str]) -> Ledger:
    """The ledger `target` names (the same as `Ledger(target)`)."""
    backend: Any = backend_for(target)
    return backend(str(target) if is_postgres(target) else target)
