"""The ledger on its own: exact money at scale, schema migrations from v1, daily spend, report filters."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from support import DETR

from runtime.metering.backends import open_ledger
from runtime.metering.ledger import SCHEMA_VERSION, LedgerError, LedgerRecord
from runtime.metering.report import ReportCache, ReportError, build_report, money, parse_when
from runtime.money import to_pico

DETR_PRICE = Decimal("0.0000075")
T0 = datetime(2024, 5, 1, 23, 0, tzinfo=UTC)

# The first release's table and index, written out here as that release created them (user_version left at 0).
V1_SQL = """
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


def rec(
    i: int | str,
    cost: str = "0.0000075",
    *,
    model: str = DETR,
    when: datetime = T0,
    source: str = "binding",
    outcome: str = "ok",
    cache_hit: bool = False,
    route: str | None = None,
    latency: float = 10.0,
) -> LedgerRecord:
    return LedgerRecord(
        request_id=f"r{i}",
        source=source,
        model=model,
        unit_price=Decimal(cost),
        cost=Decimal(cost) if outcome == "ok" and not cache_hit else Decimal(0),
        latency_ms=latency,
        outcome=outcome,
        cache_hit=cache_hit,
        route=route,
        time=when,
    )


def test_a_million_detr_requests_cost_exactly_seven_dollars_fifty(tmp_path):
    ledger = open_ledger(tmp_path / "l.sqlite3")
    ledger.record(rec(0, when=datetime.now(UTC)))
    # 999,999 more rows exactly like the one `record` wrote (same cost text and integer column), in one statement.
    with ledger.reading() as db:
        db.execute("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
            INSERT INTO requests (time, request_id, source, worker, route, model, units, unit_price, cost,
                                  cost_pico, latency_ms, cache_hit, outcome)
            SELECT r.time, 'copy' || n.i, r.source, r.worker, r.route, r.model, r.units, r.unit_price, r.cost,
                   r.cost_pico, r.latency_ms, r.cache_hit, r.outcome FROM n, requests AS r WHERE r.id = 1""")
    report = build_report(ledger)
    assert report.total.requests == 1_000_000 and report.total.billed_requests == 1_000_000
    assert report.total.cost == Decimal("7.50") and money(report.total.cost) == "7.50"
    assert ledger.spent_on(datetime.now(UTC).date().isoformat()) == Decimal("7.5")
    assert sum([float(DETR_PRICE)] * 1000) != 0.0075  # what floats would have done (already wrong at 1000)


def test_costs_finer_than_a_picodollar_are_still_summed_exactly(ledger_target):
    ledger = open_ledger(ledger_target)
    assert to_pico(Decimal("0.0000075")) == 7_500_000 and to_pico(Decimal("1E-13")) is None
    ledger.record(rec(1, "0.0000075"))
    ledger.record(rec(2, "0.0000000000001"))  # 1e-13: kept as text only, added as a Decimal
    ledger.record(rec(3, "0.0000000000003", model="tiny"))
    report = build_report(ledger)
    assert report.total.cost == Decimal("0.0000075000004")
    assert {g.key: g.cost for g in report.by_model} == {
        DETR: Decimal("0.0000075000001"),
        "tiny": Decimal("0.0000000000003"),
    }
    assert ledger.spent_on("2024-05-01") == Decimal("0.0000075000004")


def write_v1_ledger(path) -> None:
    db = sqlite3.connect(path)
    db.executescript(V1_SQL)
    db.execute("PRAGMA journal_mode=WAL")
    rows = [
        (
            T0.isoformat(timespec="microseconds"),
            "old-1",
            "rest",
            None,
            "/client/v4/accounts/a/ai/run/" + DETR,
            DETR,
            1,
            "0.0000075",
            "0.0000075",
            50.0,
            0,
            "ok",
        ),
        (
            (T0 + timedelta(hours=1)).isoformat(timespec="microseconds"),
            "old-2",
            "binding",
            "w",
            "/detect",
            DETR,
            1,
            "0.0000075",
            "0.0000075",
            70.0,
            0,
            "ok",
        ),
        (
            (T0 + timedelta(hours=1)).isoformat(timespec="microseconds"),
            "old-3",
            "hf",
            None,
            None,
            DETR,
            1,
            "0.0000075",
            "0",
            1.0,
            1,
            "ok",
        ),
        (
            (T0 + timedelta(hours=2)).isoformat(timespec="microseconds"),
            "old-4",
            "binding",
            "w",
            "/detect",
            "@cf/nope",
            1,
            "0",
            "0",
            0.5,
            0,
            "error:5007",
        ),
        (
            (T0 + timedelta(hours=2)).isoformat(timespec="microseconds"),
            "old-5",
            "cli",
            None,
            None,
            "fine",
            1,
            "1E-14",
            "1E-14",
            2.0,
            0,
            "ok",
        ),
    ]
    db.executemany(
        "INSERT INTO requests (time, request_id, source, worker, route, model, units, unit_price, cost,"
        " latency_ms, cache_hit, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()


def test_a_v1_ledger_opens_migrates_and_reports_correctly(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write_v1_ledger(path)
    ledger = open_ledger(path)
    assert (ledger.migrated_from, ledger.schema_version) == (1, SCHEMA_VERSION)
    expected = Decimal("0.000015") + Decimal("1E-14")
    report = build_report(ledger, by="day")
    assert (
        report.total.requests,
        report.total.billed_requests,
        report.total.errors,
        report.total.cache_hits,
        report.total.cost,
    ) == (5, 3, 1, 1, expected)
    assert [(g.key, g.requests, g.cost) for g in report.breakdown] == [
        ("2024-05-01", 1, Decimal("0.0000075")),
        ("2024-05-02", 4, Decimal("0.0000075") + Decimal("1E-14")),
    ]
    assert ledger.spent_on("2024-05-02") == Decimal("0.00000750000001")
    # the projection: the recorded cost over the 2 h from the first to the last row, times 30 days (360 × 2 h)
    assert report.projection.monthly == (expected * 360).quantize(Decimal("0.000001"))
    assert report.projection.span_seconds == 7200.0
    # the new version writes on, and a second opening changes nothing
    ledger.record(rec("new", when=T0 + timedelta(hours=3)))
    ledger.close()
    again = open_ledger(path)
    assert (again.migrated_from, again.schema_version) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert build_report(again).total.cost == expected + DETR_PRICE
    cols = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(requests)")}
    assert "cost_pico" in cols
    assert [r["request_id"] for r in again.latest(2)] == ["rnew", "old-5"]
    again.close()


def test_a_ledger_from_a_newer_version_or_not_a_ledger_is_refused_clearly(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    db = sqlite3.connect(newer)
    db.executescript(V1_SQL + "PRAGMA user_version = 99;")
    db.close()
    with pytest.raises(LedgerError, match="schema v99 is newer"):
        open_ledger(newer)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(LedgerError, match="not a usable ledger"):
        open_ledger(junk)


def test_spent_on_counts_one_utc_day_and_sees_rows_written_by_other_connections(ledger_target):
    ledger = open_ledger(ledger_target)
    other = open_ledger(ledger_target)  # e.g. `workers-ai-emu run` while the dev server is up, or a second emulator
    ledger.record(rec(1, when=datetime(2024, 5, 1, 0, 0, tzinfo=UTC)))
    ledger.record(rec(2, when=datetime(2024, 5, 1, 23, 59, 59, 999999, tzinfo=UTC)))
    ledger.record(rec(3, when=datetime(2024, 5, 2, 0, 0, tzinfo=UTC)))
    ledger.record(rec(4, when=datetime(2024, 4, 30, 23, 59, tzinfo=UTC)))
    ledger.record(rec(5, outcome="error:5006", when=T0))
    # a time in another zone is stored as UTC: 2024-05-02 01:30+02:00 is 2024-05-01 23:30Z
    ledger.record(rec(6, when=datetime(2024, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))))
    assert ledger.spent_on("2024-05-01") == 3 * DETR_PRICE
    other.record(rec(7, when=T0))
    ledger.record(rec(8, "0.0000000000001", when=T0))
    assert ledger.spent_on("2024-05-01") == 4 * DETR_PRICE + Decimal("1E-13")
    assert ledger.spent_on("2024-05-02") == DETR_PRICE
    assert ledger.spent_on("2024-05-01") == 4 * DETR_PRICE + Decimal("1E-13")
    assert other.spent_on("2024-05-01") == 4 * DETR_PRICE + Decimal("1E-13")
    other.close()
    ledger.close()


def test_record_from_many_threads_keeps_every_row(ledger_target):
    ledger = open_ledger(ledger_target)

    def work(t: int) -> None:
        for i in range(250):
            ledger.record(rec(f"{t}-{i}", when=datetime.now(UTC)))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.count() == 2000
    assert build_report(ledger).total.cost == 2000 * DETR_PRICE == Decimal("0.015")
    ids = [r["id"] for r in ledger.rows_after(0)]
    assert ids == sorted(ids) and len(set(ids)) == 2000
    ledger.close()


def test_report_filters_breakdowns_and_projection(ledger_target):
    ledger = open_ledger(ledger_target)
    ledger.record(rec(1, when=T0, source="rest", route="/a", latency=10.0))
    ledger.record(rec(2, when=T0 + timedelta(minutes=30), source="hf", latency=20.0))
    ledger.record(
        rec(3, "0.00000251", model="resnet", when=T0 + timedelta(hours=1), source="binding", route="/a", latency=30.0)
    )
    ledger.record(rec(4, when=T0 + timedelta(hours=1), cache_hit=True, source="hf", latency=1.0))
    ledger.record(rec(5, when=T0 + timedelta(days=1), outcome="error:3036", latency=1.0))

    whole = build_report(ledger)
    assert (whole.total.requests, whole.total.billed_requests, whole.total.cost) == (5, 3, Decimal("0.00001751"))
    assert whole.total.mean_latency_ms == pytest.approx(62.0 / 5)
    assert [g.key for g in whole.by_model] == [DETR, "resnet"]  # most expensive first

    sources = {
        g.key: (g.requests, g.billed_requests, g.cache_hits, g.cost)
        for g in build_report(ledger, by="source").breakdown
    }
    assert sources == {
        "rest": (1, 1, 0, DETR_PRICE),
        "hf": (2, 1, 1, DETR_PRICE),
        "binding": (2, 1, 0, Decimal("0.00000251")),
    }
    routes = {g.key: g.requests for g in build_report(ledger, by="route").breakdown}
    assert routes == {"/a": 2, None: 3}

    # a bare date as `until` takes in that whole day; a datetime bound is exact
    assert build_report(ledger, until="2024-05-01").total.requests == 2
    assert build_report(ledger, since="2024-05-02").total.requests == 3
    assert build_report(ledger, since="2024-05-02T00:00:00", until="2024-05-02T00:00:01").total.requests == 2
    assert (
        build_report(ledger, since="2024-05-02T01:00:00+01:00", until="2024-05-02T00:00:00.000001Z").total.requests == 2
    )  # 01:00+01:00 is midnight UTC
    one = build_report(ledger, since="2024-05-02", until="2024-05-02")
    assert (one.total.cost, one.first, one.last) == (
        Decimal("0.00000251"),
        "2024-05-02T00:00:00.000000+00:00",
        "2024-05-02T23:00:00.000000+00:00",
    )

    # projection: $0.00001751 over 24 h → × 30
    assert whole.projection.monthly == (Decimal("0.00001751") * 30).quantize(Decimal("0.000001"))
    assert build_report(ledger, until="2024-05-01T23:00:00.5").projection.monthly is None  # one instant only
    assert whole.timeline_step == "hour"  # a day's span: hourly buckets (minutes would be too many)
    assert [(g.key, g.requests) for g in whole.timeline] == [
        ("2024-05-01T23", 2),
        ("2024-05-02T00", 2),
        ("2024-05-02T23", 1),
    ]
    first_hour = build_report(ledger, until="2024-05-02T00:00:00Z")
    assert first_hour.timeline_step == "minute"
    assert [(g.key, g.cost) for g in first_hour.timeline] == [
        ("2024-05-01T23:00", DETR_PRICE),
        ("2024-05-01T23:30", DETR_PRICE),
    ]


@pytest.mark.parametrize(
    "since, until, by",
    [
        ("May 1st", None, "model"),
        (None, "2024-02-30", "model"),
        ("2024-05-02", "2024-05-01", "model"),
        (None, None, "colour"),
        ("2024-05-01T25:00", None, "model"),
    ],
)
def test_bad_report_parameters_raise_report_errors(since, until, by):
    with pytest.raises(ReportError):
        build_report(open_ledger(":memory:"), since, until, by)


def test_parse_when_and_money_formatting():
    assert parse_when("2024-05-01") == "2024-05-01"
    assert parse_when("2024-05-01", end=True) == "2024-05-02"
    assert parse_when("2024-05-01T12:00Z") == "2024-05-01T12:00:00.000000+00:00"
    assert parse_when("2024-05-01 14:00+02:00") == "2024-05-01T12:00:00.000000+00:00"
    assert [money(Decimal(x)) for x in ("0", "7.5", "7.500000000000", "0.0000075", "1E-7", "12")] == [
        "0.00",
        "7.50",
        "7.50",
        "0.0000075",
        "0.0000001",
        "12.00",
    ]


def test_report_cache_recomputes_exactly_when_rows_are_added(ledger_target):
    ledger = open_ledger(ledger_target)
    reports = ReportCache(ledger)
    assert reports.get()["requests"] == 0 and ledger.newest_id() == 0
    ledger.record(rec(1))
    first = reports.get()
    assert (first["requests"], first["total_usd"]) == (1, "0.0000075")
    first["requests"] = -1  # callers get copies; the cached report stays intact
    assert reports.get()["requests"] == 1
    ledger.record(rec(2, "0.00000251", model="resnet"))
    assert reports.get()["total_usd"] == "0.00001001"
    assert reports.get(by="model", until="2024-05-01")["requests"] == 2
    assert reports.get(by="model", until="2024-04-30")["requests"] == 0


def test_which_targets_name_the_server_backend_and_which_opens_them(tmp_path):
    from pathlib import Path

    from runtime.metering.backends import backend_for, is_postgres
    from runtime.metering.postgres_ledger import PostgresLedger
    from runtime.metering.sqlite_ledger import SQLiteLedger

    assert is_postgres("postgresql://u@h/db") and is_postgres("postgres://u@h/db")
    assert (
        not is_postgres("POSTGRESQL://u@h/db")
        and not is_postgres(tmp_path / "postgresql:")
        and not is_postgres(":memory:")
    )
    assert backend_for("postgres://u@h/db") is PostgresLedger and backend_for(tmp_path / "l.sqlite3") is SQLiteLedger
    ledger = open_ledger(tmp_path / "l.sqlite3")
    assert isinstance(ledger, SQLiteLedger) and ledger.path == Path(tmp_path / "l.sqlite3")
    ledger.close()


def test_rows_read_back_with_their_types_newest_first_fifty_by_default(tmp_path):
    ledger = open_ledger(tmp_path / "l.sqlite3")
    for i in range(55):
        ledger.record(rec(i, cache_hit=i == 54))
    rows = ledger.latest()
    assert len(rows) == 50 and rows[0]["request_id"] == "r54" and rows[-1]["request_id"] == "r5"
    assert rows[0]["cache_hit"] is True and rows[1]["cache_hit"] is False
    assert rows[0]["cost"] == "0" and rows[1]["cost"] == "0.0000075" and rows[1]["unit_price"] == "0.0000075"
    assert ledger.count() == 55 and ledger.newest_id() == 55
    with ledger.snapshot() as db:
        assert db.one("SELECT id FROM requests WHERE id > 1000") == ()
    ledger.close()


def test_instances_lists_every_writer_once(tmp_path):
    from dataclasses import replace

    ledger = open_ledger(tmp_path / "l.sqlite3")
    assert ledger.instances() == []
    for i, name in enumerate(["east", "west", "east", None]):
        ledger.record(replace(rec(i), instance=name))
    assert sorted(ledger.instances()) == ["east", "west"]
    ledger.close()


def test_picodollars_up_to_the_int64_limit():
    from runtime.money import INT64_MAX

    assert to_pico(Decimal(INT64_MAX) / 10**12) == INT64_MAX
    assert to_pico(Decimal(INT64_MAX + 1) / 10**12) is None


@pytest.mark.skipif(not hasattr(__import__("time"), "tzset"), reason="needs time.tzset (POSIX)")
def test_ledger_times_are_utc_whatever_the_machines_time_zone(monkeypatch):
    import time as time_module

    from runtime.metering.ledger import time_text, utcnow

    monkeypatch.setenv("TZ", "America/New_York")
    time_module.tzset()
    try:
        assert utcnow().utcoffset() == timedelta(0)
        assert time_text(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00.000000+00:00"  # naive: taken as UTC
        eastern = timezone(timedelta(hours=-4))
        assert time_text(datetime(2024, 5, 1, 8, 0, tzinfo=eastern)) == "2024-05-01T12:00:00.000000+00:00"
    finally:
        monkeypatch.delenv("TZ")
        time_module.tzset()
