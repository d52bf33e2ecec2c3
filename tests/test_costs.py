"""Costs agree everywhere: the ledger, the report, `workers-ai-emu costs` (in-process and as a subprocess) and
`GET /cdn-cgi/emu/costs` all equal N × price exactly, after thousands of runs through the shared path and
hundreds over real HTTP; concurrent requests lose and duplicate no row; the daily budget stops spending."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from metering_server import DETR, PRICED, PRICES, RESNET, TINY, make_app, metering_service, model_tables
from support import FIXTURES, ROOT, running_server

from runtime.cli import main as cli_main
from runtime.errors import BadInput, BudgetExceeded
from runtime.metering.ledger import SCHEMA_VERSION
from runtime.metering.report import build_report
from runtime.service import Caller

WIDE = (FIXTURES / "images" / "wide-400x100.png").read_bytes()


def write_config(tmp_path: Path, budget: str | None = None) -> Path:
    """A wrangler-like.toml whose state_dir is where the tests' service keeps its ledger."""
    lines = ['name = "costs-test"', "", "[emulator]", 'state_dir = "state"']
    if budget is not None:
        lines.append(f'budget_usd_per_day = "{budget}"')
    for table in model_tables():
        lines += ["", "[[ai.models]]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = tmp_path / "wrangler-like.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def ledger_sums(path: Path) -> tuple[int, int, Decimal]:
    """Read the ledger file with plain sqlite3: rows, billed rows, and the exact Decimal sum of the TEXT costs."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT cost, outcome, cache_hit FROM requests").fetchall()
    finally:
        db.close()
    total = sum((Decimal(c) for c, _, _ in rows), Decimal(0))
    return len(rows), sum(1 for _, o, h in rows if o == "ok" and not h), total


def cli_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert cli_main(["costs", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


async def run_many(service, model: str, n: int, caller_for, batch: int = 16) -> list:
    outcomes = []
    for start in range(0, n, batch):
        outcomes += await asyncio.gather(
            *(service.run(model, TINY, None, caller_for()) for _ in range(min(batch, n - start)))
        )
    return outcomes


def test_thousands_of_runs_agree_exactly_everywhere(tmp_path, capsys):
    config = write_config(tmp_path)
    state = tmp_path / "state"
    service = metering_service(state, intra_op_threads=1)
    n_priced, n_resnet = 1500, 500
    outcomes = asyncio.run(
        run_many(service, PRICED, n_priced, lambda: Caller(source="binding", worker="w", route="/classify"))
    )
    outcomes += asyncio.run(run_many(service, RESNET, n_resnet, lambda: Caller(source="cli")))
    with pytest.raises(BadInput):  # failures are recorded, and cost nothing
        service.run_sync(PRICED, b"not an image", caller=Caller(source="rest"))
    assert len({o.request_id for o in outcomes}) == n_priced + n_resnet
    expected = n_priced * PRICES[PRICED] + n_resnet * PRICES[RESNET]
    assert expected == Decimal("0.012505")  # 1500 × 0.0000075 + 500 × 0.00000251
    assert sum((o.cost for o in outcomes), Decimal(0)) == expected

    rows, billed, total = ledger_sums(state / "ledger.sqlite3")
    assert (rows, billed, total) == (n_priced + n_resnet + 1, n_priced + n_resnet, expected)

    report = build_report(service.ledger)
    assert (report.total.cost, report.total.requests, report.total.billed_requests) == (expected, rows, billed)

    data = cli_json(capsys, "--config", str(config))
    assert Decimal(data["total_usd"]) == expected and data["total_usd"] == "0.012505"
    assert (data["requests"], data["billed_requests"], data["errors"]) == (rows, billed, 1)
    by_model = {m["model"]: m for m in data["by_model"]}
    assert Decimal(by_model[PRICED]["cost_usd"]) == n_priced * PRICES[PRICED]
    assert (by_model[PRICED]["requests"], by_model[PRICED]["billed_requests"]) == (n_priced + 1, n_priced)
    assert Decimal(by_model[RESNET]["cost_usd"]) == n_resnet * PRICES[RESNET]
    assert set(by_model[RESNET]) >= {"model", "requests", "billed_requests", "cost_usd"}

    by_source = {g["source"]: g for g in cli_json(capsys, "--config", str(config), "--by", "source")["breakdown"]}
    assert {k: (v["requests"], Decimal(v["cost_usd"])) for k, v in by_source.items()} == {
        "binding": (n_priced, n_priced * PRICES[PRICED]),
        "cli": (n_resnet, n_resnet * PRICES[RESNET]),
        "rest": (1, Decimal(0)),
    }
    by_route = {
        g["route"]: g["requests"] for g in cli_json(capsys, "--config", str(config), "--by", "route")["breakdown"]
    }
    assert by_route == {"/classify": n_priced, None: n_resnet + 1}

    proc = subprocess.run(
        [sys.executable, "-m", "runtime", "costs", "--config", str(config), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == data

    with running_server(make_app(service)) as base:
        http = httpx.get(f"{base}/cdn-cgi/emu/costs").json()
    assert http == data  # the same object, digit for digit (no budget configured on either side)
    service.close()


def test_hundreds_over_real_http_by_rest_and_hugging_face(tmp_path, capsys):
    config = write_config(tmp_path)
    service = metering_service(tmp_path / "state", intra_op_threads=1)
    n_rest, n_hf, n_detr = 200, 100, 10

    async def drive(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:

            async def post(url: str, **kw) -> httpx.Response:
                return await client.post(url, content=TINY, **kw)

            calls = [post(f"/client/v4/accounts/x/ai/run/{PRICED}") for _ in range(n_rest)]
            calls += [
                post("/hf-inference/models/test/priced-classifier", headers={"x-use-cache": "false"})
                for _ in range(n_hf)
            ]
            calls += [post(f"/client/v4/accounts/x/ai/run/{DETR}") for _ in range(n_detr)]
            calls += [post("/client/v4/accounts/x/ai/run/@cf/no/such-model")]
            out = []
            for i in range(0, len(calls), 24):  # two dozen in flight at a time
                out += await asyncio.gather(*calls[i : i + 24])
            return out

    with running_server(make_app(service)) as base:
        responses = asyncio.run(drive(base))
        http = httpx.get(f"{base}/cdn-cgi/emu/costs", params={"by": "source"}).json()
    assert [r.status_code for r in responses[:-1]] == [200] * (n_rest + n_hf + n_detr)
    assert responses[-1].status_code == 400 and responses[-1].json()["errors"][0]["code"] == 5007
    expected = (n_rest + n_hf) * PRICES[PRICED] + n_detr * PRICES[DETR]
    assert sum((Decimal(r.headers["x-emu-cost-usd"]) for r in responses), Decimal(0)) == expected

    ids = [r.headers["x-emu-request-id"] for r in responses]
    db = sqlite3.connect(tmp_path / "state" / "ledger.sqlite3")
    ledger_ids = {rid: Decimal(cost) for rid, cost in db.execute("SELECT request_id, cost FROM requests")}
    db.close()
    assert set(ledger_ids) == set(ids) and len(ids) == len(set(ids))  # every response has exactly its row
    assert all(ledger_ids[r.headers["x-emu-request-id"]] == Decimal(r.headers["x-emu-cost-usd"]) for r in responses)

    assert Decimal(http["total_usd"]) == expected
    assert (http["requests"], http["billed_requests"], http["errors"]) == (len(responses), len(responses) - 1, 1)
    sources = {g["source"]: (g["requests"], Decimal(g["cost_usd"])) for g in http["breakdown"]}
    assert sources == {
        "rest": (n_rest + n_detr + 1, n_rest * PRICES[PRICED] + n_detr * PRICES[DETR]),
        "hf": (n_hf, n_hf * PRICES[PRICED]),
    }
    cli = cli_json(capsys, "--config", str(config), "--by", "source")
    assert cli == http
    service.close()


def test_concurrent_requests_lose_and_duplicate_no_row(tmp_path):
    service = metering_service(tmp_path, intra_op_threads=1, max_queue=200)

    async def burst() -> list:
        callers = [Caller(source="binding") for _ in range(60)]
        results = await asyncio.gather(
            *(service.run(PRICED, TINY, None, c) for c in callers),
            *(service.run(PRICED, b"junk", None, Caller(source="rest")) for _ in range(20)),
            return_exceptions=True,
        )
        return [c.request_id for c in callers], results

    ids, results = asyncio.run(burst())
    assert sum(1 for r in results if isinstance(r, BadInput)) == 20
    db = sqlite3.connect(tmp_path / "ledger.sqlite3")
    rows = db.execute("SELECT request_id, outcome FROM requests").fetchall()
    db.close()
    assert len(rows) == 80 and len({r for r, _ in rows}) == 80
    assert {r for r, o in rows if o == "ok"} == set(ids)
    assert build_report(service.ledger).total.cost == 60 * PRICES[PRICED]
    service.close()


def test_daily_budget_stops_spending_through_the_service_and_the_rest_door(tmp_path, capsys):
    price = PRICES[PRICED]
    config = write_config(tmp_path, budget=str(5 * price))
    service = metering_service(tmp_path / "state", budget_usd_per_day=5 * price)
    for _ in range(5):
        service.run_sync(PRICED, TINY)
    with pytest.raises(BudgetExceeded) as caught:
        service.run_sync(PRICED, TINY)
    assert (caught.value.code, caught.value.status) == (3036, 429)
    assert service.ledger.latest(1)[0]["outcome"] == "error:3036"
    with running_server(make_app(service)) as base:
        r = httpx.post(f"{base}/client/v4/accounts/x/ai/run/{PRICED}", content=TINY)
        costs = httpx.get(f"{base}/cdn-cgi/emu/costs").json()
    assert r.status_code == 429 and r.json()["errors"][0]["code"] == 3036
    assert costs["budget"] == {"budget_usd_per_day": "0.0000375", "spent_today_usd": "0.0000375", "exceeded": True}
    assert (Decimal(costs["total_usd"]), costs["requests"], costs["errors"]) == (5 * price, 7, 2)
    assert cli_json(capsys, "--config", str(config))["budget"] == costs["budget"]
    service.close()


def test_filters_formats_and_errors_of_the_cli(tmp_path, capsys):
    config = write_config(tmp_path)
    assert not (tmp_path / "state" / "ledger.sqlite3").exists()
    empty = cli_json(capsys, "--config", str(config))
    assert (empty["total_usd"], empty["requests"], empty["by_model"]) == ("0.00", 0, [])
    assert not (tmp_path / "state" / "ledger.sqlite3").exists()  # reporting never creates a ledger

    service = metering_service(tmp_path / "state", intra_op_threads=1)
    for _ in range(3):
        service.run_sync(PRICED, TINY)
    service.run_sync(RESNET, WIDE)
    today = build_report(service.ledger).first[:10]
    service.close()
    assert cli_json(capsys, "--config", str(config), "--since", today, "--until", today)["requests"] == 4
    assert cli_json(capsys, "--config", str(config), "--until", "2000-01-01")["requests"] == 0
    assert cli_json(capsys, "--config", str(config), "--since", "2999-01-01T00:00:00Z")["requests"] == 0
    by_day = cli_json(capsys, "--config", str(config), "--by", "day")["breakdown"]
    assert [(d["day"], d["requests"], Decimal(d["cost_usd"])) for d in by_day] == [
        (today, 4, 3 * PRICES[PRICED] + PRICES[RESNET])
    ]

    capsys.readouterr()
    assert cli_main(["costs", "--config", str(config), "--format", "csv", "--by", "model"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["model"], r["requests"], r["cost_usd"]) for r in rows] == [
        (PRICED, "3", "0.0000225"),
        (RESNET, "1", "0.00000251"),
        ("TOTAL", "4", "0.00002501"),
    ]

    assert cli_main(["costs", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "0.00002501" in table and PRICED in table and "Projected monthly cost" in table

    assert cli_main(["costs", "--config", str(config), "--since", "yesterday"]) == 2
    assert "since: 'yesterday' is not an ISO date" in capsys.readouterr().err
    assert cli_main(["costs", "--config", str(config), "--since", "2024-05-02", "--until", "2024-05-01"]) == 2
    assert "must be before" in capsys.readouterr().err


def test_http_endpoints_reject_bad_parameters_with_json_errors(tmp_path):
    service = metering_service(tmp_path)
    service.run_sync(PRICED, TINY)
    with running_server(make_app(service)) as base:
        for query in (
            {"since": "soon"},
            {"until": "2024-13-01"},
            {"by": "colour"},
            {"limit": "5"},
            {"since": "2024-05-02", "until": "2024-05-01"},
        ):
            r = httpx.get(f"{base}/cdn-cgi/emu/costs", params=query)
            assert r.status_code == 400 and isinstance(r.json()["error"], str), query
        for limit in ("0", "-1", "abc", "100000"):
            r = httpx.get(f"{base}/cdn-cgi/emu/requests", params={"limit": limit})
            assert r.status_code == 400 and "limit" in r.json()["error"]
        latest = httpx.get(f"{base}/cdn-cgi/emu/requests", params={"limit": "1"}).json()["requests"]
        health = httpx.get(f"{base}/cdn-cgi/emu/health").json()
    assert [(r["model"], r["cost"], r["outcome"]) for r in latest] == [(PRICED, "0.0000075", "ok")]
    assert health["status"] == "ok" and health["ledger"]["schema_version"] == SCHEMA_VERSION
    service.close()


WORKER = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response.json(await self.env.AI.run("@cf/test/priced-classifier", await request.bytes()))
"""


def test_a_workers_env_ai_run_over_http_is_billed_as_binding_with_worker_and_route(tmp_path, capsys):
    from runtime.host import WorkerHost
    from runtime.http.app import create_app
    from runtime.http.context import AppContext
    from runtime.settings import Settings

    config = write_config(tmp_path)
    (tmp_path / "worker.py").write_text(WORKER)
    service = metering_service(tmp_path / "state", intra_op_threads=1)
    settings = Settings(name="billing-demo", main=tmp_path / "worker.py", emulator=service.settings)
    app = create_app(AppContext(settings=settings, service=service, host=WorkerHost(settings, service)))
    n = 120

    async def drive(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            out = []
            for i in range(0, n, 24):
                out += await asyncio.gather(
                    *(client.post(f"/classify/{j % 3}", content=TINY) for j in range(i, min(n, i + 24)))
                )
            return out

    with running_server(app) as base:
        responses = asyncio.run(drive(base))
        http = httpx.get(f"{base}/cdn-cgi/emu/costs", params={"by": "route"}).json()
    assert [r.status_code for r in responses] == [200] * n
    assert Decimal(http["total_usd"]) == n * PRICES[PRICED] and http["billed_requests"] == n
    assert {g["route"]: g["requests"] for g in http["breakdown"]} == {f"/classify/{k}": n // 3 for k in range(3)}
    rows = service.ledger.latest(n)
    assert {(r["source"], r["worker"]) for r in rows} == {("binding", "billing-demo")}
    assert cli_json(capsys, "--config", str(config), "--by", "route") == http
    service.close()
