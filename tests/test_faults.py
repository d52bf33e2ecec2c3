"""Cloudflare's failures on demand (runtime/faults.py): each code through each door, as Cloudflare renders it,
metered at $0; configured rates over HTTP; the faults endpoint."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from api_support import DETR, PNG, ledger_rows, make_service, serve

from runtime.bindings.ai import AiBinding
from runtime.config import load_settings
from runtime.errors import ABORTED_TEXT, CAPACITY_TEXT, DAILY_ALLOCATION_TEXT, TIMEOUT_TEXT, ConfigError
from runtime.faults import CODES, Faults, FaultSpecError, Rule
from runtime.workers.errors import InferenceUpstreamError

# code -> (Cloudflare REST status, Hugging Face status, the message as the binding and the envelope carry it)
EXPECTED = {
    3040: (429, 429, CAPACITY_TEXT),
    3036: (429, 429, DAILY_ALLOCATION_TEXT),
    3007: (408, 504, TIMEOUT_TEXT),
    3008: (408, 408, ABORTED_TEXT),
    5006: (400, 400, "AiError: Bad input: the input does not match the model's schema (injected fault)"),
    5007: (400, 404, f"No such model {DETR} or task"),
}


def test_every_code_is_covered() -> None:
    assert set(EXPECTED) == set(CODES)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_fault_through_each_door(code: int, tmp_path: Path) -> None:
    rest_status, hf_status, message = EXPECTED[code]
    service = make_service(tmp_path)
    binding = AiBinding(service, "faulty")
    service.faults.add(Rule(code=code, times=3))
    with pytest.raises(InferenceUpstreamError) as info:
        asyncio.run(binding.run(DETR, {"image": list(PNG)}))
    assert str(info.value) == f"{code}: {message}"
    with serve(service) as base:
        rest = httpx.post(f"{base}/client/v4/accounts/a/ai/run/{DETR}", content=PNG)
        hf = httpx.post(f"{base}/hf-inference/models/facebook/detr-resnet-50", content=PNG)
        after = httpx.post(f"{base}/client/v4/accounts/a/ai/run/{DETR}", content=PNG)  # used up: real again
    assert rest.status_code == rest_status
    body = rest.json()
    assert body["success"] is False and body["errors"] == [{"code": code, "message": message}]
    assert hf.status_code == hf_status  # Hugging Face carries the message without Cloudflare's AiError prefix
    assert hf.json()["error"] == message.removeprefix("AiError: Bad input: ")
    assert after.status_code == 200
    rows = ledger_rows(service)
    assert [(r["source"], r["outcome"], r["cost"]) for r in rows[:3]] == [
        ("binding", f"error:{code}", "0"),
        ("rest", f"error:{code}", "0"),
        ("hf", f"error:{code}", "0"),
    ]
    assert rows[3]["outcome"] == "ok" and Decimal(rows[3]["cost"]) > 0


def test_a_delay_holds_the_answer_and_a_caller_that_gives_up_is_metered_as_aborted(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    binding = AiBinding(service, "slow")
    service.faults.add(Rule(delay_s=0.3))

    async def impatient() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(binding.run(DETR, {"image": list(PNG)}), 0.05)

    asyncio.run(impatient())
    service.faults.add(Rule(delay_s=0.2))

    async def patient() -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await binding.run(DETR, {"image": list(PNG)})
        return loop.time() - t0

    assert asyncio.run(patient()) >= 0.2
    rows = ledger_rows(service)
    assert [(r["outcome"], r["cost"]) for r in rows][:1] == [("error:3008", "0")]
    assert rows[1]["outcome"] == "ok"
    service.close()


def test_model_filter_and_times(tmp_path: Path) -> None:
    faults = Faults()
    faults.add(Rule(code=3040, times=2, model="@cf/microsoft/resnet-50"))
    assert faults.take(DETR) == (0.0, None)
    assert faults.take("@cf/microsoft/resnet-50")[1].code == 3040
    assert faults.take("@cf/microsoft/resnet-50")[1].code == 3040
    assert faults.take("@cf/microsoft/resnet-50") == (0.0, None) and faults.rules() == []


@pytest.mark.parametrize(
    "table, problem",
    [
        ({"code": 1234}, "code 1234"),
        ({"code": 3040, "rate": 1.5}, "rate"),
        ({"rate": 0.5}, "needs a 'code'"),
        ({"code": 3040, "times": 0}, "times"),
        ({"code": 3040, "colour": 1}, "unknown fault key"),
        ({"delay_s": -1}, "delay_s"),
    ],
)
def test_bad_fault_rules_are_refused(table: dict, problem: str) -> None:
    with pytest.raises(FaultSpecError, match=problem):
        Rule.from_table(table)


def test_configured_fault_rate_over_http_is_binomial_and_metered_at_zero(tmp_path: Path) -> None:
    config = tmp_path / "wrangler-like.toml"
    config.write_text(f"""name = "faults"
[[ai.models]]
name = "{DETR}"
path = "{Path(__file__).parent / "fixtures" / "models" / "detr"}"
[emulator]
state_dir = "state"
[[emulator.faults]]
model = "{DETR}"
code = 3040
rate = 0.25
seed = 20261202
""")
    settings = load_settings(config)
    service = make_service(tmp_path, faults=settings.emulator.faults)
    n = 400
    with serve(service) as base, httpx.Client(base_url=base, timeout=60) as http:
        statuses = [http.post(f"/client/v4/accounts/a/ai/run/{DETR}", content=PNG).status_code for _ in range(n)]
    failed = statuses.count(429)
    assert failed + statuses.count(200) == n
    mean, sd = n * 0.25, math.sqrt(n * 0.25 * 0.75)
    assert mean - 4 * sd <= failed <= mean + 4 * sd, failed  # 65..135 for 400 at 0.25
    rows = ledger_rows(service)
    assert len(rows) == n and sum(r["outcome"] == "error:3040" for r in rows) == failed
    assert all(r["cost"] == "0" for r in rows if r["outcome"] == "error:3040")
    # the same seed gives the same sequence: a load test repeats
    again = Faults([Rule.from_table(t) for t in settings.emulator.faults])
    fired = [again.take(DETR)[1] is not None for _ in range(n)]
    assert [s == 429 for s in statuses] == fired


def test_a_bad_fault_in_the_config_names_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "wrangler-like.toml"
    config.write_text('name = "x"\n[[emulator.faults]]\ncode = 3040\nrate = 2\n')
    with pytest.raises(ConfigError, match=r"emulator\.faults: .*rate must be a fraction"):
        load_settings(config)


def test_the_faults_endpoint_sets_lists_and_clears_and_needs_the_token(tmp_path: Path) -> None:
    service = make_service(tmp_path, api_token="s3cret")
    auth = {"authorization": "Bearer s3cret"}
    with serve(service) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/cdn-cgi/emu/faults", json={"faults": [{"code": 3040}]}).status_code == 401
        assert http.get("/cdn-cgi/emu/faults").status_code == 401
        bad = http.post("/cdn-cgi/emu/faults", json={"faults": [{"code": 42}]}, headers=auth)
        assert bad.status_code == 400 and "code 42" in bad.json()["error"]
        set_ = http.post("/cdn-cgi/emu/faults", json={"faults": [{"code": 3040, "times": 1}]}, headers=auth)
        assert set_.status_code == 200 and set_.json()["faults"][0]["code"] == 3040
        r = http.post(f"/client/v4/accounts/a/ai/run/{DETR}", content=PNG, headers=auth)
        assert r.status_code == 429 and r.json()["errors"][0]["code"] == 3040
        assert http.get("/cdn-cgi/emu/faults", headers=auth).json() == {"faults": []}  # used up
        http.post("/cdn-cgi/emu/faults", json={"faults": [{"code": 3036, "rate": 0.5, "seed": 1}]}, headers=auth)
        assert http.delete("/cdn-cgi/emu/faults", headers=auth).json() == {"faults": []}
        ok = http.post(f"/client/v4/accounts/a/ai/run/{DETR}", content=PNG, headers=auth)
        assert ok.status_code == 200
