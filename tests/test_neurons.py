"""The bill as Cloudflare computes it (runtime/metering/neurons.py) and honest projections: exact arithmetic."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from support import DETR, RESNET

from runtime.cli import main as cli_main
from runtime.metering.backends import open_ledger
from runtime.metering.ledger import Ledger, time_text
from runtime.metering.neurons import Plan
from runtime.metering.report import build_report
from runtime.money import to_pico

DETR_PRICE = Decimal("0.0000075")
RESNET_PRICE = Decimal("0.00000251")
PLAN = Plan()  # $0.011 per 1,000 neurons, 10,000 free per day


def fill(path: Path, rows: list[tuple[datetime, str, Decimal]]) -> Ledger:
    """A real ledger file holding billed requests (time, model, price), written in one transaction."""
    ledger = open_ledger(path)
    ledger.close()
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO requests (time, request_id, source, model, units, unit_price, cost, cost_pico, latency_ms,"
        " cache_hit, outcome) VALUES (?, ?, 'binding', ?, 1, ?, ?, ?, 1.0, 0, 'ok')",
        [(time_text(t), f"r{i}", m, str(p), str(p), to_pico(p)) for i, (t, m, p) in enumerate(rows)],
    )
    db.commit()
    db.close()
    return open_ledger(path)


def test_detr_neurons_per_request_and_the_free_allocation_boundary():
    assert PLAN.neurons(DETR_PRICE).quantize(Decimal("0.0001")) == Decimal("0.6818")
    assert PLAN.neurons(RESNET_PRICE * 1_000_000).quantize(Decimal("1")) == 228_182  # 228,182 neurons per million
    assert PLAN.bill(14_666 * DETR_PRICE) == 0  # $0.109995: within the 10,000 free neurons ($0.11)
    assert PLAN.bill(14_667 * DETR_PRICE) == Decimal("0.0000025")  # one more is billed, exactly
    assert PLAN.bill(1_000_000 * DETR_PRICE) == Decimal("7.39")  # $7.50 at list price less $0.11 free


def test_the_ledger_bill_per_utc_day(tmp_path):
    noon = datetime(2026, 11, 30, 12, tzinfo=UTC)
    rows = [(noon, DETR, DETR_PRICE)] * 14_666
    # the next day: 14,667 requests, one second either side of nothing special, plus resnet traffic
    day2 = noon + timedelta(days=1)
    rows += [(day2, DETR, DETR_PRICE)] * 14_667 + [(day2, RESNET, RESNET_PRICE)] * 10
    # across midnight: one request at 23:59:59.999999 belongs to day 3, one at 00:00 to day 4
    midnight = datetime(2026, 12, 3, tzinfo=UTC)
    rows += [(midnight - timedelta(microseconds=1), DETR, DETR_PRICE), (midnight, RESNET, RESNET_PRICE)]
    ledger = fill(tmp_path / "ledger.sqlite3", rows)
    report = build_report(ledger, plan=PLAN)
    bills = {b.day: b for b in report.bills}
    assert bills["2026-11-30"].bill_usd == 0 and bills["2026-11-30"].requests == 14_666
    assert bills["2026-12-01"].list_usd == 14_667 * DETR_PRICE + 10 * RESNET_PRICE
    assert bills["2026-12-01"].bill_usd == 14_667 * DETR_PRICE + 10 * RESNET_PRICE - Decimal("0.11")
    assert bills["2026-12-02"].requests == 1 and bills["2026-12-03"].requests == 1
    assert bills["2026-12-02"].bill_usd == bills["2026-12-03"].bill_usd == 0
    data = report.as_json()["cloudflare_bill"]
    assert data["bill_usd"] == "0.0000276" and data["free_neurons_per_day"] == 10_000  # only day 2 is billed
    other = build_report(ledger, plan=Plan(Decimal("0.011"), 0)).bills  # a plan without a free allocation
    assert sum(b.bill_usd for b in other) == sum(b.list_usd for b in other)
    ledger.close()


def test_a_million_requests_in_a_day(tmp_path):
    day = datetime(2026, 11, 1, 9, tzinfo=UTC)
    ledger = fill(tmp_path / "ledger.sqlite3", [(day, DETR, DETR_PRICE)] * 1_000_000)
    (bill,) = build_report(ledger, plan=PLAN).bills
    assert (bill.requests, bill.list_usd, bill.bill_usd) == (1_000_000, Decimal("7.5"), Decimal("7.39"))
    ledger.close()


def test_projections_state_their_basis_and_need_a_minute(tmp_path):
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    short = fill(tmp_path / "short.sqlite3", [(t0 + timedelta(seconds=i), DETR, DETR_PRICE) for i in range(24)])
    projection = build_report(short).as_json()["projection"]
    assert projection["monthly_usd"] is None and projection["basis"].startswith("none")
    long = fill(tmp_path / "long.sqlite3", [(t0 + timedelta(minutes=i), DETR, DETR_PRICE) for i in range(61)])
    projection = build_report(long).as_json()["projection"]
    # 61 requests over 60 minutes: 61 × $0.0000075 / 3,600 s × 2,592,000 s
    assert Decimal(projection["monthly_usd"]) == (61 * DETR_PRICE * 720).quantize(Decimal("0.000001"))
    assert "3600 s of traffic" in projection["basis"]


def test_costs_project_on_the_command_line(tmp_path, capsys):
    config = tmp_path / "wrangler-like.toml"
    config.write_text('name = "p"\n[emulator]\nstate_dir = "state"\n')
    assert (
        cli_main(
            [
                "costs",
                "project",
                "--config",
                str(config),
                "--requests-per-day",
                "1000000",
                "--model",
                DETR,
                "--format",
                "json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert (data["per_day_list_usd"], data["per_day_bill_usd"]) == ("7.50", "7.39")
    assert (data["per_month_list_usd"], data["per_month_bill_usd"]) == ("225.00", "221.70")
    # the observed mix: the ledger's billed requests, scaled to the stated volume
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    fill(tmp_path / "state" / "ledger.sqlite3", [(t0, DETR, DETR_PRICE)] * 3 + [(t0, RESNET, RESNET_PRICE)]).close()
    assert cli_main(["costs", "project", "--config", str(config), "--requests-per-day", "400", "--format", "json"]) == 0
    mixed = json.loads(capsys.readouterr().out)
    assert Decimal(mixed["per_day_list_usd"]) == 300 * DETR_PRICE + 100 * RESNET_PRICE
    assert "observed mix" in mixed["basis"]


@pytest.mark.parametrize("args", [["--requests-per-day", "10", "--model", "@cf/nobody/nothing"]])
def test_costs_project_refuses_unknown_models(tmp_path, args, capsys):
    config = tmp_path / "wrangler-like.toml"
    config.write_text('name = "p"\n')
    assert cli_main(["costs", "project", "--config", str(config), *args]) == 2
    assert "No such model" in capsys.readouterr().err


def test_bill_and_projection_json_say_every_figure_under_its_name():
    from runtime.metering.neurons import bill_json, day_bills, project

    bills = day_bills([("2024-05-01", 20_000, 20_000 * DETR_PRICE), ("2024-05-02", 10, 10 * DETR_PRICE)], PLAN)
    assert bill_json(bills, PLAN) == {
        "neuron_price_usd_per_1000": "0.011",
        "free_neurons_per_day": 10_000,
        "list_usd": "0.150075",
        "bill_usd": "0.04",
        "days": [
            {
                "day": "2024-05-01",
                "requests": 20_000,
                "list_usd": "0.15",
                "neurons": "13636.363636",
                "billable_neurons": "3636.363636",
                "bill_usd": "0.04",
            },
            {
                "day": "2024-05-02",
                "requests": 10,
                "list_usd": "0.000075",
                "neurons": "6.818182",
                "billable_neurons": "0.000000",
                "bill_usd": "0.00",
            },
        ],
    }
    assert project(20_000 * DETR_PRICE, 20_000, PLAN) == {
        "requests_per_day": 20_000,
        "per_day_list_usd": "0.15",
        "per_day_bill_usd": "0.04",
        "per_month_list_usd": "4.50",
        "per_month_bill_usd": "1.20",
        "neurons_per_day": "13636.363636",
        "free_neurons_per_day": 10_000,
        "month_days": 30,
    }
    assert project(DETR_PRICE, 1, PLAN, days=7)["month_days"] == 7


def test_the_plan_comes_from_the_settings_and_prints_its_price_without_exponent():
    from runtime.metering.neurons import bill_json
    from runtime.settings import EmulatorSettings

    plan = Plan.of(EmulatorSettings(neuron_price_usd_per_1000=Decimal("10"), free_neurons_per_day=5))
    assert plan == Plan(Decimal("10"), 5)
    assert bill_json([], plan) == {
        "neuron_price_usd_per_1000": "10",  # Decimal("1E+1") once normalised: printed as a plain number
        "free_neurons_per_day": 5,
        "list_usd": "0.00",
        "bill_usd": "0.00",
        "days": [],
    }
