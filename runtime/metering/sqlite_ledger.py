"""The SQLite backend of the ledger (metering/ledger.py has the interface): the embedded default.

Money is exact. Each row keeps its cost as decimal TEXT (the record of truth) and, from schema v2 on, also as
an integer count of pico-dollars (`cost_pico`), so SQLite can add up a hundred thousand rows exactly and fast.
A cost that does not fit that scale (a price with more than 12 decimals) gets `cost_pico = NULL` and is added
in Python as a Decimal instead: sums are exact either way.

Schema versions live in `PRAGMA user_version` and only move forward (see MIGRATIONS); a ledger written by an
older version is migrated when it is opened, in one transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..money import ZERO, from_pico, to_pico
from .ledger import INSERT_COLUMNS, INSERT_COUNT, SCHEMA_VERSION, Ledger, LedgerError, LedgerRecord, Reader

# v1: the first release's table, exactly as it wrote it (it never set user_version, so a v1 file reads 0).
SCHEMA_V1 = """
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


def _migrate_v1(db: sqlite3.Connection) -> None:
    for statement in SCHEMA_V1.split(";"):
        if statement.strip():
            db.execute(statement)


def _migrate_v2(db: sqlite3.Connection) -> None:
    """Integer pico-dollar costs (exact SQL sums) and a covering (time, cost_pico) index for daily spend."""
    db.execute("ALTER TABLE requests ADD COLUMN cost_pico INTEGER")
    rows = db.execute("SELECT id, cost FROM requests").fetchall()
    db.executemany("UPDATE requests SET cost_pico = ? WHERE id = ?", ((to_pico(Decimal(c)), i) for i, c in rows))
    db.execute("DROP INDEX IF EXISTS requests_time")
    db.execute("CREATE INDEX requests_time_cost ON requests(time, cost_pico)")
    db.execute("CREATE INDEX requests_inexact ON requests(time) WHERE cost_pico IS NULL")


def _migrate_v3(db: sqlite3.Connection) -> None:
    """Which weights answered: "real", "stand-in:<name>", or NULL (no model ran: refusals, unknown models)."""
    db.execute("ALTER TABLE requests ADD COLUMN weights TEXT")


def _migrate_v4(db: sqlite3.Connection) -> None:
    """AI Gateway metadata given with the request (JSON text), NULL without."""
    db.execute("ALTER TABLE requests ADD COLUMN metadata TEXT")


def _migrate_v5(db: sqlite3.Connection) -> None:
    """The request's tags (JSON array text) and the writing emulator's instance id; NULL on older rows."""
    db.execute("ALTER TABLE requests ADD COLUMN tags TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN instance TEXT")


def _migrate_v6(db: sqlite3.Connection) -> None:
    """Speech: the audio's duration in milliseconds, which a per-audio-minute price bills; NULL for images."""
    db.execute("ALTER TABLE requests ADD COLUMN audio_ms INTEGER")


def _migrate_v7(db: sqlite3.Connection) -> None:
    """Usage in units: what each request used, as JSON text (`{"audio-ms": 61234}`, `{"request": 1}`; NULL: nothing),
    which reports sum by quantity with json_each. v6's `audio_ms` becomes {"request": 1, "audio-ms": n}; a successful row
    without it (an image, cached or not) used one request; an error used nothing (v6 set audio_ms only on answers).
    Costs are not touched: every row keeps its cost text and pico-dollars exactly."""
    db.execute("ALTER TABLE requests ADD COLUMN usage TEXT")
    db.execute("UPDATE requests SET usage = json_object('request', 1, 'audio-ms', audio_ms) WHERE audio_ms IS NOT NULL")
    db.execute("""UPDATE requests SET usage = '{"request":1}' WHERE audio_ms IS NULL AND outcome = 'ok'""")
    db.execute("ALTER TABLE requests DROP COLUMN audio_ms")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migrate_v1,
    _migrate_v2,
    _migrate_v3,
    _migrate_v4,
    _migrate_v5,
    _migrate_v6,
    _migrate_v7,
]
assert len(MIGRATIONS) == SCHEMA_VERSION


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
    db.execute("PRAGMA busy_timeout=30000")  # the CLI and a running server may share one ledger
    return db


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema up to SCHEMA_VERSION in one transaction; returns the version found."""
    db.execute("BEGIN IMMEDIATE")
    try:
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if (
            found == 0
            and db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests'").fetchone()
        ):
            found = 1  # a v1 file: the table exists, the version was never written
        if found > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger schema v{found} is newer than this version understands (v{SCHEMA_VERSION});"
                " upgrade workers-ai-emu or point [emulator] state_dir elsewhere"
            )
        for step in MIGRATIONS[found:]:
            step(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


class SQLiteReader(Reader):
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, tuple(params)).fetchall()


class SQLiteLedger(Ledger):
    """Thread-safe; each `record` is its own committed transaction (WAL, synchronous=NORMAL).

    WAL with synchronous=NORMAL survives the process being killed (a committed row is in the WAL file before
    `record` returns); only an operating-system crash or power cut can lose the last transactions. Several
    processes may share one file (`dev --workers N`): SQLite serializes their writes, so ids grow in commit order.
    """

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.write_delay_s = self._write_delay()
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = _connect(str(path))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self.migrated_from = migrate(self._db)
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{path}: not a usable ledger: {e}") from None
        self._spent: dict[str, tuple[int, int, Decimal]] = {}  # day -> (last id seen, pico sum, inexact sum)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def describe(self) -> str:
        return str(self.path) if self.path else ":memory:"

    def record(self, rec: LedgerRecord) -> None:
        with self._lock:
            if self.write_delay_s:
                time.sleep(self.write_delay_s)
            self._db.execute(
                f"INSERT INTO requests ({INSERT_COLUMNS}) VALUES ({', '.join('?' * INSERT_COUNT)})", self._values(rec)
            )

    def spent_on(self, day: str) -> Decimal:
        """Total cost of one UTC day (YYYY-MM-DD), exact.

        Incremental: rows are append-only and ids grow in commit order (also across processes), so only rows
        newer than the last call are read; the first call for a day is one range scan of the covering index.
        """
        start = date.fromisoformat(day)
        lo, hi = start.isoformat(), (start + timedelta(days=1)).isoformat()
        with self._lock:
            last_id, pico, inexact = self._spent.get(day, (0, 0, ZERO))
            if last_id == 0:  # the covering (time, cost_pico) index holds the rowid too
                row = self._db.execute(
                    "SELECT MAX(id), SUM(cost_pico) FROM requests WHERE time >= ? AND time < ?", (lo, hi)
                ).fetchone()
            else:  # `+time` keeps the planner on the rowid range: only the rows added since the last call
                row = self._db.execute(
                    "SELECT MAX(id), SUM(cost_pico) FROM requests WHERE id > ? AND +time >= ? AND +time < ?",
                    (last_id, lo, hi),
                ).fetchone()
            if row[0] is not None:
                pico += row[1] or 0
                for (cost,) in self._db.execute(
                    "SELECT cost FROM requests WHERE id > ? AND id <= ? AND cost_pico IS NULL"
                    " AND time >= ? AND time < ?",
                    (last_id, row[0], lo, hi),
                ):
                    inexact += Decimal(cost)
                last_id = row[0]
                self._spent = {day: (last_id, pico, inexact)}  # only today's entry is worth keeping
        return from_pico(pico) + inexact

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reports. For a file it is a separate one, so a long report never holds up `record`
        (WAL readers do not block the writer); an in-memory ledger can only share its one connection."""
        if self.path is None:
            with self._lock:
                yield self._db
            return
        db = _connect(str(self.path))
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Reader]:
        with self.reading() as db:
            if self.path is None:  # the one shared connection: a plain read, under the lock
                yield SQLiteReader(db)
                return
            db.execute("BEGIN")  # one snapshot: every query of a report sees the same rows
            try:
                yield SQLiteReader(db)
            finally:
                db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
