"""The PostgreSQL backend on its own: the same schema versions and migrations as SQLite, exact NUMERIC money,
clear refusals, no password shown, and the config key that selects it."""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg
import pytest
from api_support import PNG
from pg_support import fresh_database
from support import DETR, free_port, make_service
from test_ledger import rec

from runtime.config import load_settings
from runtime.metering import postgres_ledger, sqlite_ledger
from runtime.metering.backends import open_ledger
from runtime.metering.ledger import SCHEMA_VERSION, LedgerError
from runtime.metering.postgres_ledger import PostgresLedger, safe_url
from runtime.metering.report import build_report


@pytest.fixture
def pg_url(postgres_server):
    return fresh_database(postgres_server)


def test_both_backends_migrate_to_the_same_version():
    assert len(postgres_ledger.MIGRATIONS) == len(sqlite_ledger.MIGRATIONS) == SCHEMA_VERSION


def test_a_v1_database_is_migrated_forward_with_its_rows(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        postgres_ledger._v1(conn)
        conn.execute("CREATE TABLE workers_ai_emu_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO workers_ai_emu_schema VALUES (1)")
        conn.execute(
            "INSERT INTO requests (time, request_id, source, model, units, unit_price, cost, latency_ms, cache_hit,"
            " outcome) VALUES ('2024-05-01T10:00:00.000000+00:00', 'old', 'rest', %s, 1, 0.0000075, 0.0000075, 3, 0,"
            " 'ok'), ('2024-05-01T10:00:01.000000+00:00', 'fine', 'rest', %s, 1, 1E-13, 1E-13, 3, 0, 'ok')",
            (DETR, DETR),
        )
    ledger = open_ledger(pg_url)
    assert isinstance(ledger, PostgresLedger)
    assert (ledger.migrated_from, ledger.schema_version) == (1, SCHEMA_VERSION)
    ledger.record(rec(1, when=ledger_time()))
    report = build_report(ledger)
    assert report.total.cost == Decimal("0.0000150000001")  # NUMERIC and pico sums agree, exactly
    assert ledger.spent_on("2024-05-01") == Decimal("0.0000075000001")
    with psycopg.connect(pg_url) as conn:
        pico = dict(conn.execute("SELECT request_id, cost_pico FROM requests").fetchall())
    assert pico["old"] == 7_500_000 and pico["fine"] is None  # too fine for pico-dollars: summed as NUMERIC
    ledger.close()
    again = open_ledger(pg_url)  # opening a current database migrates nothing
    assert again.migrated_from == SCHEMA_VERSION
    again.close()


def ledger_time():
    from datetime import UTC, datetime

    return datetime(2024, 5, 2, tzinfo=UTC)


def test_a_newer_database_and_an_unreachable_server_are_refused_clearly(pg_url):
    open_ledger(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE workers_ai_emu_schema SET version = 99")
    with pytest.raises(LedgerError, match="v99 is newer"):
        open_ledger(pg_url)
    nobody = f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/db"
    started = time.monotonic()
    with pytest.raises(LedgerError) as info:
        PostgresLedger(nobody, connect_timeout_s=2)
    assert time.monotonic() - started < 30
    assert "hunter2" not in str(info.value) and "someone:***@127.0.0.1" in str(info.value)


def test_urls_are_shown_without_their_password():
    assert safe_url("postgresql://u:secret@db.example:5432/emu") == "postgresql://u:***@db.example:5432/emu"
    assert safe_url("postgresql://u@db/emu") == "postgresql://u@db/emu"


def test_the_config_key_selects_postgres_and_rows_carry_the_instance(pg_url, tmp_path):
    config = tmp_path / "wrangler-like.toml"
    config.write_text(f'name = "w"\n[emulator]\nledger = "{pg_url}"\ninstance = "ci-runner-7"\n')
    settings = load_settings(config)
    assert settings.ledger_target == pg_url
    service = make_service(tmp_path, ledger=str(settings.ledger_target), instance=settings.emulator.instance)
    service.run_sync(DETR, PNG)
    rows = service.ledger.latest()
    assert rows[0]["instance"] == "ci-runner-7" and rows[0]["cost"] == str(service.catalog.get(DETR).price)
    assert build_report(service.ledger, instance="elsewhere").total.requests == 0
    assert build_report(service.ledger, instance="ci-runner-7").total.requests == 1
    service.close()
    relative = tmp_path / "other.toml"
    relative.write_text('name = "w"\n[emulator]\nledger = "team/ledger.sqlite3"\n')
    assert load_settings(relative).ledger_target == tmp_path / "team" / "ledger.sqlite3"  # beside the config
