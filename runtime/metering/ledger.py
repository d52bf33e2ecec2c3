"""The ledger: one committed row per inference request, written before its response is sent.

One interface (this module), two backends, and the registry that picks one (metering/backends.py):
- `open_ledger(path)` opens the embedded SQLite file (metering/sqlite_ledger.py), the default:
  `<state_dir>/ledger.sqlite3`;
- `open_ledger("postgresql://user@host/db")` opens a PostgreSQL database (metering/postgres_ledger.py), which any
  number of emulators on any number of machines can share (`[emulator] ledger = "postgresql://..."`).

Both keep the same schema versions (v1 to v7, migrated forward when opened), the same columns, exact money
(SQLite: decimal text plus integer pico-dollars; PostgreSQL: NUMERIC plus the same pico-dollars), a row's usage as
JSON (`{"audio-ms": 61234}`; SQLite: JSON text, PostgreSQL: JSONB) that SQL sums by quantity through
`Reader.usage_each`, and the same order guarantee: row ids grow in commit order, so "rows after id N" and "the
newest id" mean the same on both. Reports (metering/report.py) and metrics run the same SQL on either through
`snapshot()`.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..money import to_pico

WRITE_DELAY_ENV = "WORKERS_AI_EMU_TEST_LEDGER_WRITE_DELAY_S"
SCHEMA_VERSION = 7  # both backends' migrations end here (tests check they agree)
BILLED = "(outcome = 'ok' AND cache_hit = 0)"  # an inference that ran and is charged (at $0 for free models)


def utcnow() -> datetime:
    return datetime.now(UTC)


def usage_json(usage: Mapping[str, int] | None) -> str | None:
    """A usage as the ledger stores it: compact JSON with its quantities in name order (None: no usage)."""
    if usage is None:
        return None
    return json.dumps({q: int(usage[q]) for q in sorted(usage)}, separators=(",", ":"))


def usage_of(stored: Any) -> dict[str, int] | None:
    """A usage as read back: JSON text (SQLite) or an already decoded object (PostgreSQL JSONB)."""
    if stored is None:
        return None
    value = json.loads(stored) if isinstance(stored, (str, bytes)) else stored
    return {str(q): int(n) for q, n in value.items()}


def time_text(when: datetime) -> str:
    """The one timestamp format in the ledger: UTC ISO 8601 with microseconds, so text order is time order."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


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
    usage: Mapping[str, int] | None = None  # what the request used: {"request": 1}, {"audio-ms": 61234}; errors None
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
    "usage",
)
INSERT_COLUMNS = (
    "time, request_id, source, worker, route, model, units, unit_price, cost, cost_pico, latency_ms, cache_hit,"
    " outcome, weights, metadata, tags, instance, usage"
)
INSERT_COUNT = INSERT_COLUMNS.count(",") + 1


class Reader(abc.ABC):
    """One consistent read view of the ledger for reports: SQL with `?` placeholders, run the same on both.

    `usage_each` is the one piece of SQL that differs: a table function over a row's usage, with one row
    (`key`, `value`) per quantity, so `FROM requests, {usage_each} AS u ... SUM(CAST(u.value AS BIGINT))` sums
    usage by quantity on either backend (rows without usage add nothing)."""

    usage_each = "json_each(requests.usage)"

    @abc.abstractmethod
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        rows = self.all(sql, params)
        return rows[0] if rows else ()


class Ledger(abc.ABC):
    """The interface of both backends; open one with `open_ledger(target)` (metering/backends.py): a
    `postgresql://` URL, else a SQLite file path (or ":memory:"). Thread-safe; `record` commits its row before
    returning."""

    path: Path | None = None  # the SQLite file (None for PostgreSQL and in-memory ledgers)
    migrated_from: int = 0
    write_delay_s: float = 0.0

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
        usage = usage_of(item.pop("usage"))
        item["audio_ms"] = usage.get("audio-ms") if usage is not None else None  # as rows said before v7
        item["usage"] = usage
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
            usage_json(rec.usage),
        )

    @abc.abstractmethod
    def close(self) -> None: ...
