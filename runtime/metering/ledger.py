"""The SQLite ledger: one committed row per inference request, written before its response is sent."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    time: datetime = field(default_factory=utcnow)


SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    request_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    worker TEXT,
    route TEXT,
    model TEXT NOT NULL,
    units INTEGER NOT NULL,
    unit_price TEXT NOT NULL,
    cost TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    cache_hit INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_time ON requests(time);
"""


class Ledger:
    """Thread-safe; each `record` is its own committed transaction (WAL, synchronous=NORMAL)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if path != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def record(self, rec: LedgerRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO requests (time, request_id, source, worker, route, model, units, unit_price, cost,"
                " latency_ms, cache_hit, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rec.time.isoformat(timespec="microseconds"), rec.request_id, rec.source, rec.worker, rec.route,
                 rec.model, rec.units, str(rec.unit_price), str(rec.cost), rec.latency_ms, int(rec.cache_hit),
                 rec.outcome),
            )

    def spent_on(self, day: str) -> Decimal:
        """Total cost of one UTC day (YYYY-MM-DD), exact."""
        with self._lock:
            rows = self._db.execute("SELECT cost FROM requests WHERE time >= ? AND time < ?",
                                    (day, day + "T99")).fetchall()
        return sum((Decimal(c) for (c,) in rows), Decimal("0"))

    def close(self) -> None:
        with self._lock:
            self._db.close()
