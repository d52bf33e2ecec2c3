"""The PostgreSQL backend of the ledger (metering/ledger.py has the interface): one database shared by a team's
emulators, `[emulator] ledger = "postgresql://user@host/db"`.

- Money is NUMERIC (exact, summed exactly by the server), with the same integer pico-dollar column as SQLite so
  that reports run the same SQL on both.
- Each `record` is one transaction that takes a transaction-level advisory lock before its INSERT: ids then grow
  in commit order across every writer (a sequence alone hands out ids at insert time, not at commit), which the
  incremental daily sum and the reports' "newest id" rely on. Rows are committed before `record` returns.
- Schema versions are the same as SQLite's, kept in `workers_ai_emu_schema`; migrations run under an advisory
  lock, so many emulators starting at once migrate once.
- Connections come from a psycopg_pool pool; the URL's password is never shown (`describe`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..money import ZERO
from .ledger import INSERT_COLUMNS, INSERT_COUNT, SCHEMA_VERSION, Ledger, LedgerError, LedgerRecord, Reader

WRITE_LOCK = 0x57414945  # pg_advisory_xact_lock key of the ledger's writers ("WAIE")
MIGRATE_LOCK = 0x57414946  # ... and of its migrations

Step = Callable[[Any], None]


def _v1(db: Any) -> None:
    db.execute("""
        CREATE TABLE requests (
            id BIGSERIAL PRIMARY KEY,
            time TEXT NOT NULL,
            request_id TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            worker TEXT,
            route TEXT,
            model TEXT NOT NULL,
            units INTEGER NOT NULL,
            unit_price NUMERIC NOT NULL,
            cost NUMERIC NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL,
            cache_hit INTEGER NOT NULL,
            outcome TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX requests_time ON requests(time)")


def _v2(db: Any) -> None:
    db.execute("ALTER TABLE requests ADD COLUMN cost_pico BIGINT")
    db.execute(
        "UPDATE requests SET cost_pico = (cost * 1000000000000)::BIGINT"
        " WHERE cost * 1000000000000 = trunc(cost * 1000000000000) AND abs(cost) < 9000000"
    )
    db.execute("DROP INDEX IF EXISTS requests_time")
    db.execute("CREATE INDEX requests_time_cost ON requests(time, cost_pico)")


def _v3(db: Any) -> None:
    db.execute("ALTER TABLE requests ADD COLUMN weights TEXT")


def _v4(db: Any) -> None:
    db.execute("ALTER TABLE requests ADD COLUMN metadata TEXT")


def _v5(db: Any) -> None:
    db.execute("ALTER TABLE requests ADD COLUMN tags TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN instance TEXT")
    db.execute("CREATE INDEX requests_instance ON requests(instance)")


def _v6(db: Any) -> None:
    db.execute("ALTER TABLE requests ADD COLUMN audio_ms BIGINT")


def _v7(db: Any) -> None:
    """Usage as JSONB (SQLite's v7, which says why): audio_ms -> {"request": 1, "audio-ms": n}, other answers {"request": 1}."""
    db.execute("ALTER TABLE requests ADD COLUMN usage JSONB")
    db.execute(
        "UPDATE requests SET usage = jsonb_build_object('request', 1, 'audio-ms', audio_ms) WHERE audio_ms IS NOT NULL"
    )
    db.execute("""UPDATE requests SET usage = '{"request": 1}'::jsonb WHERE audio_ms IS NULL AND outcome = 'ok'""")
    db.execute("ALTER TABLE requests DROP COLUMN audio_ms")


MIGRATIONS: list[Step] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]
assert len(MIGRATIONS) == SCHEMA_VERSION


def safe_url(url: str) -> str:
    """The URL without its password (for messages and /cdn-cgi/emu/ledger)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def _sql(text: str) -> str:
    """The shared `?` placeholders as psycopg's `%s`."""
    return text.replace("%", "%%").replace("?", "%s")


class PostgresReader(Reader):
    usage_each = "jsonb_each_text(requests.usage)"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(_sql(sql), tuple(params)).fetchall())


class PostgresLedger(Ledger):
    def __init__(self, url: str, pool_size: int = 4, connect_timeout_s: float = 10.0) -> None:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - both are dependencies
            raise LedgerError("a PostgreSQL ledger needs psycopg and psycopg_pool (pip install workers-ai-emu)")
        self.url = str(url)
        self.write_delay_s = self._write_delay()
        self._spent: dict[str, tuple[int, Decimal]] = {}
        self._spent_lock = threading.Lock()
        try:
            self._pool = ConnectionPool(
                self.url,
                min_size=1,
                max_size=pool_size,
                kwargs={"connect_timeout": max(int(connect_timeout_s), 1)},
                open=False,
            )
            self._pool.open(wait=True, timeout=connect_timeout_s)
            with self._pool.connection() as conn:
                self.migrated_from = self._migrate(conn)
        except LedgerError:
            self._close_quietly()
            raise
        except Exception as e:  # noqa: BLE001 - unreachable server, bad URL, no permission: one clear message
            self._close_quietly()
            raise LedgerError(f"{safe_url(self.url)}: cannot use this PostgreSQL ledger: {e}") from None

    def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.close()

    def _migrate(self, conn: Any) -> int:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS workers_ai_emu_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM workers_ai_emu_schema").fetchone()
            found = row[0] if row else 0
            if found > SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger schema v{found} is newer than this version understands (v{SCHEMA_VERSION});"
                    " upgrade workers-ai-emu or point [emulator] ledger elsewhere"
                )
            for step in MIGRATIONS[found:]:
                step(conn)
            if row is None:
                conn.execute("INSERT INTO workers_ai_emu_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE workers_ai_emu_schema SET version = %s", (SCHEMA_VERSION,))
        return int(found)

    @property
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT version FROM workers_ai_emu_schema").fetchone()
            return int(row[0]) if row else 0

    def describe(self) -> str:
        return safe_url(self.url)

    def record(self, rec: LedgerRecord) -> None:
        values = list(self._values(rec))
        values[7], values[8] = rec.unit_price, rec.cost  # NUMERIC from Decimal, exactly
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))  # ids in commit order
            if self.write_delay_s:
                time.sleep(self.write_delay_s)
            conn.execute(f"INSERT INTO requests ({INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * INSERT_COUNT)})", values)

    def spent_on(self, day: str) -> Decimal:
        """Total cost of one UTC day, exact (NUMERIC); incremental, as ids grow in commit order."""
        start = date.fromisoformat(day)
        lo, hi = start.isoformat(), (start + timedelta(days=1)).isoformat()
        with self._spent_lock:
            last_id, total = self._spent.get(day, (0, ZERO))
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT MAX(id), SUM(cost) FROM requests WHERE id > %s AND time >= %s AND time < %s",
                    (last_id, lo, hi),
                ).fetchone()
            if row is not None and row[0] is not None:
                total += Decimal(row[1] or 0)
                self._spent = {day: (row[0], total)}  # only today's entry is worth keeping
            return total

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Reader]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield PostgresReader(conn)

    def close(self) -> None:
        self._pool.close()
