"""Ledger v6 -> v7 (usage in units), on both backends: a real v6 ledger, built with the v6 schema exactly as v6 wrote
it (the DDL below is fixture data, not today's migrations) and filled with the rows v6 wrote (per-request answers,
per-minute speech, errors, cache hits, a cost finer than a pico-dollar), opened by the current code: every row
survives with its cost identical to the pico-dollar, and its usage is what it used."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from support import DETR, RESNET

from runtime.metering.backends import is_postgres, open_ledger
from runtime.metering.ledger import SCHEMA_VERSION, LedgerRecord
from runtime.metering.report import build_report
from runtime.money import to_pico

WHISPER, TURBO, TINY = "@cf/openai/whisper", "@cf/openai/whisper-large-v3-turbo", "@cf/openai/whisper-tiny-en"

# A v6 SQLite ledger's schema as v1..v6 left it (sqlite_master after the six migrations) and its version.
SQLITE_V6 = """
CREATE TABLE requests (
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
, cost_pico INTEGER, weights TEXT, metadata TEXT, tags TEXT, instance TEXT, audio_ms INTEGER);
CREATE INDEX requests_time_cost ON requests(time, cost_pico);
CREATE INDEX requests_inexact ON requests(time) WHERE cost_pico IS NULL;
PRAGMA user_version = 6;
"""

# The same on PostgreSQL: the table, its indexes, and the version table saying 6.
POSTGRES_V6 = [
    """CREATE TABLE requests (
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
        outcome TEXT NOT NULL,
        cost_pico BIGINT,
        weights TEXT,
        metadata TEXT,
        tags TEXT,
        instance TEXT,
        audio_ms BIGINT
    )""",
    "CREATE INDEX requests_time_cost ON requests(time, cost_pico)",
    "CREATE INDEX requests_instance ON requests(instance)",
    "CREATE TABLE workers_ai_emu_schema (version INTEGER NOT NULL)",
    "INSERT INTO workers_ai_emu_schema (version) VALUES (6)",
]

V6_COLUMNS = (
    "time, request_id, source, worker, route, model, units, unit_price, cost, cost_pico, latency_ms, cache_hit,"
    " outcome, weights, metadata, tags, instance, audio_ms"
)
KEPT = (  # every v6 column but audio_ms, which v7 keeps inside `usage`
    "id, time, request_id, source, worker, route, model, units, unit_price, cost, cost_pico, latency_ms, cache_hit,"
    " outcome, weights, metadata, tags, instance"
)


def t(second: int) -> str:
    return f"2024-05-01T12:00:{second:02d}.000000+00:00"


def row(i, model, price, cost, outcome="ok", *, cache_hit=0, audio_ms=None, weights="real", source="rest", **extra):
    """One row as v6's writer wrote it: cost text and the pico-dollars of it (NULL when too fine)."""
    return (
        t(i),
        f"v6-{i}",
        source,
        extra.get("worker"),
        extra.get("route"),
        model,
        1,
        price,
        cost,
        to_pico(Decimal(cost)),
        float(i) + 0.5,
        cache_hit,
        outcome,
        weights,
        extra.get("metadata"),
        extra.get("tags"),
        extra.get("instance"),
        audio_ms,
    )


# (row, the usage v7 must give it)
ROWS = [
    (row(1, DETR, "0.0000075", "0.0000075", route="/detect", worker="w"), {"request": 1}),
    (row(2, DETR, "0.0000075", "0", cache_hit=1, source="hf"), {"request": 1}),  # a cache hit: $0, one request
    (
        row(3, RESNET, "0.00000251", "0.00000251", metadata='{"team":"a"}', tags='["x"]', instance="east"),
        {"request": 1},
    ),
    (
        row(4, WHISPER, "0.00045", "0.000459255000", audio_ms=61_234),
        {"request": 1, "audio-ms": 61_234},
    ),  # per audio minute
    (row(5, TURBO, "0.00051", "0.000769250000", audio_ms=90_500, source="binding"), {"request": 1, "audio-ms": 90_500}),
    (row(6, WHISPER, "0.00045", "0", cache_hit=1, audio_ms=61_234, source="hf"), {"request": 1, "audio-ms": 61_234}),
    (row(7, TINY, "0", "0E-12", audio_ms=3_000), {"request": 1, "audio-ms": 3_000}),  # beta, no price: 0 to 12 places
    (row(8, "@cf/no/such-model", "0", "0", "error:5007", weights=None), None),  # errors used nothing
    (row(9, WHISPER, "0.00045", "0", "error:3036", weights=None), None),
    (row(10, DETR, "0.0000075", "0", "error:3043"), None),
    (row(11, DETR, "0.0000075", "0", "error:3008", source="binding"), None),
    (row(12, "fine", "1E-14", "1E-14", source="cli"), {"request": 1}),  # too fine for pico-dollars: NULL pico
]


def write_v6(target: str) -> None:
    values = [r for r, _ in ROWS]
    if is_postgres(target):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            for statement in POSTGRES_V6:
                conn.execute(statement)
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO requests ({V6_COLUMNS}) VALUES ({', '.join(['%s'] * 18)})",
                    [(*r[:7], Decimal(r[7]), Decimal(r[8]), *r[9:]) for r in values],
                )
        return
    db = sqlite3.connect(target)
    db.executescript(SQLITE_V6)
    db.executemany(f"INSERT INTO requests ({V6_COLUMNS}) VALUES ({', '.join('?' * 18)})", values)
    db.commit()
    db.close()


def read(target: str, sql: str) -> list[tuple]:
    if is_postgres(target):
        import psycopg

        with psycopg.connect(target) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    db = sqlite3.connect(target)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def columns(target: str) -> set[str]:
    if is_postgres(target):
        found = read(target, "SELECT column_name FROM information_schema.columns WHERE table_name = 'requests'")
    else:
        found = [(r[1],) for r in read(target, "PRAGMA table_info(requests)")]
    return {name for (name,) in found}


def test_the_v6_fixture_is_what_v6_migrations_build():
    """The fixture's DDL is the schema today's v1..v6 migrations produce (a check of the fixture, not the code)."""
    from runtime.metering import sqlite_ledger

    built, fixture = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for step in sqlite_ledger.MIGRATIONS[:6]:
        step(built)
    fixture.executescript(SQLITE_V6)
    schema = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    assert built.execute(schema).fetchall() == fixture.execute(schema).fetchall()


def test_a_v6_ledger_migrates_to_v7_keeping_every_row_and_cost(ledger_target):
    write_v6(ledger_target)
    before = read(ledger_target, f"SELECT {KEPT} FROM requests ORDER BY id")
    assert len(before) == len(ROWS) and "audio_ms" in columns(ledger_target)

    ledger = open_ledger(ledger_target)
    assert (ledger.migrated_from, ledger.schema_version) == (6, SCHEMA_VERSION) == (6, 7)
    # every row, every column but audio_ms, exactly as it was: cost text (NUMERIC) and pico-dollars included
    assert read(ledger_target, f"SELECT {KEPT} FROM requests ORDER BY id") == before
    assert "audio_ms" not in columns(ledger_target) and "usage" in columns(ledger_target)
    rows = ledger.rows_after(0)
    assert [r["request_id"] for r in rows] == [r[1] for r, _ in ROWS]
    assert [r["usage"] for r in rows] == [usage for _, usage in ROWS]
    assert [r["audio_ms"] for r in rows] == [r[17] for r, _ in ROWS]  # rows still say audio_ms, from usage
    assert [Decimal(r["cost"]) for r in rows] == [Decimal(r[8]) for r, _ in ROWS]
    assert [to_pico(Decimal(r["cost"])) for r in rows] == [r[9] for r, _ in ROWS]
    if is_postgres(ledger_target):
        assert read(ledger_target, "SELECT DISTINCT pg_typeof(usage)::text FROM requests") == [("jsonb",)]

    # the reports: the same exact money as v6 reported, usage summed by quantity over billed rows
    expected = sum((Decimal(r[8]) for r, _ in ROWS), Decimal(0))
    report = build_report(ledger)
    assert report.total.cost == expected == Decimal("0.001238515") + Decimal("1E-14")
    assert ledger.spent_on("2024-05-01") == expected
    totals = (report.total.requests, report.total.billed_requests, report.total.errors, report.total.cache_hits)
    assert totals == (12, 6, 4, 2)
    assert report.total.usage == {"request": 6, "audio-ms": 61_234 + 90_500 + 3_000}
    by_model = {g.key: g for g in report.by_model}
    assert by_model[DETR].usage == {"request": 1} and by_model[RESNET].usage == {"request": 1}
    assert by_model[WHISPER].usage == {"request": 1, "audio-ms": 61_234}  # the cached recording is not billed
    assert by_model[WHISPER].audio_minutes == round(61_234 / 60_000, 4)  # what v6's report said
    assert by_model["@cf/no/such-model"].usage == {}
    assert report.as_json()["usage"] == {"audio-ms": 154_734, "request": 6}

    # the new version writes on (usage and all), and a second opening migrates nothing
    ledger.record(
        LedgerRecord(
            request_id="v7-1",
            source="rest",
            model=WHISPER,
            unit_price=Decimal("0.00045"),
            cost=Decimal("0.000450000000"),
            latency_ms=1.0,
            outcome="ok",
            usage={"request": 1, "audio-ms": 60_000},
        )
    )
    ledger.close()
    again = open_ledger(ledger_target)
    assert (again.migrated_from, again.schema_version) == (7, 7)
    assert read(ledger_target, f"SELECT {KEPT} FROM requests WHERE id <= {len(ROWS)} ORDER BY id") == before
    newest = again.latest(1)[0]
    assert (newest["usage"], newest["audio_ms"], newest["cost"]) == (
        {"request": 1, "audio-ms": 60_000},
        60_000,
        "0.000450000000",
    )
    assert build_report(again).total.usage == {"request": 7, "audio-ms": 214_734}
    again.close()


def test_an_older_ledger_gets_request_usage_for_its_answers_only(tmp_path):
    """From v1 up, through every migration: answers (cached or not) used a request each, errors nothing."""
    from test_ledger import write_v1_ledger

    path = tmp_path / "ledger.sqlite3"
    write_v1_ledger(path)
    ledger = open_ledger(path)
    assert ledger.migrated_from == 1
    assert {r["request_id"]: r["usage"] for r in ledger.rows_after(0)} == {
        "old-1": {"request": 1},
        "old-2": {"request": 1},
        "old-3": {"request": 1},
        "old-4": None,
        "old-5": {"request": 1},
    }
    ledger.close()


@pytest.mark.parametrize(
    "usage", [None, {}, {"request": 1}, {"audio-ms": 61_234}, {"input-token": 7, "output-token": 3}]
)
def test_usage_reads_back_as_written_on_both_backends(ledger_target, usage):
    ledger = open_ledger(ledger_target)
    ledger.record(
        LedgerRecord(
            request_id="u",
            source="cli",
            model=DETR,
            unit_price=Decimal(0),
            cost=Decimal(0),
            latency_ms=1.0,
            outcome="ok",
            usage=usage,
        )
    )
    [got] = ledger.latest()
    assert got["usage"] == usage and got["audio_ms"] == (usage or {}).get("audio-ms")
    assert build_report(ledger).total.usage == (usage or {})
    ledger.close()


def test_the_postgres_v6_fixture_is_what_v6_migrations_build(postgres_server):
    import psycopg
    from pg_support import fresh_database

    from runtime.metering import postgres_ledger

    built, fixture = fresh_database(postgres_server), fresh_database(postgres_server)
    with psycopg.connect(built, autocommit=True) as conn:
        for step in postgres_ledger.MIGRATIONS[:6]:
            step(conn)
    with psycopg.connect(fixture, autocommit=True) as conn:
        for statement in POSTGRES_V6[:-2]:  # the version table is the ledger's, not the migrations'
            conn.execute(statement)
    shape = (
        "SELECT column_name, data_type, is_nullable, ordinal_position FROM information_schema.columns"
        " WHERE table_name = 'requests' ORDER BY ordinal_position"
    )
    indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'requests' ORDER BY indexname"
    assert read(built, shape) == read(fixture, shape) and read(built, indexes) == read(fixture, indexes)
