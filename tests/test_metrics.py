"""Prometheus metrics at /cdn-cgi/emu/metrics: parsed with prometheus_client's own parser, counters equal to the
ledger, token-protected."""

from __future__ import annotations

from decimal import Decimal

import httpx
from api_support import DETR, PNG, ledger_rows, make_service, serve
from prometheus_client.parser import text_string_to_metric_families

from runtime.metering.neurons import Plan


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def test_metrics_parse_and_equal_the_ledger(tmp_path):
    service = make_service(tmp_path, api_token="t0ken")
    auth = {"authorization": "Bearer t0ken"}
    with serve(service) as base, httpx.Client(base_url=base, timeout=60, headers=auth) as http:
        for _ in range(3):
            assert http.post(f"/client/v4/accounts/a/ai/run/{DETR}", content=PNG).status_code == 200
        http.post("/hf-inference/models/facebook/detr-resnet-50", content=b"not an image")
        http.post("/client/v4/accounts/a/ai/run/@cf/nobody/nothing", content=PNG)
        assert httpx.get(f"{base}/cdn-cgi/emu/metrics").status_code == 401  # the token guards it
        answer = http.get("/cdn-cgi/emu/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    got = samples(answer.text)
    rows = ledger_rows(service)
    counted = {
        (s.labels["model"], s.labels["door"], s.labels["outcome"]): s.value
        for s in got["workers_ai_emu_requests_total"]
    }
    expected: dict[tuple, float] = {}
    for r in rows:
        key = (r["model"], r["source"], r["outcome"])
        expected[key] = expected.get(key, 0) + 1
    assert counted == expected and sum(counted.values()) == len(rows) == 5
    failures = {s.labels["code"]: s.value for s in got["workers_ai_emu_failures_total"]}
    assert failures == {"5006": 1, "5007": 1}
    cost = {(s.labels["model"], s.labels["door"]): s.value for s in got["workers_ai_emu_cost_usd_total"]}
    spent = sum(Decimal(r["cost"]) for r in rows if r["source"] == "rest" and r["model"] == DETR)
    assert cost[(DETR, "rest")] == float(spent) == float(3 * service.catalog.get(DETR).price)
    neurons = {(s.labels["model"], s.labels["door"]): s.value for s in got["workers_ai_emu_neurons_total"]}
    assert abs(neurons[(DETR, "rest")] - float(Plan().neurons(spent))) < 1e-9
    assert got["workers_ai_emu_models_loaded"][0].value == 1
    assert got["workers_ai_emu_queue_depth"][0].value == 0
    inference = [s for s in got["workers_ai_emu_inference_seconds_count"] if s.labels["model"] == DETR]
    assert sum(s.value for s in inference) == 4  # three answers and the bad image, in this process
    # the bad image is refused while it is prepared (decoded outside the slot): only the three answers waited for one
    assert got["workers_ai_emu_queue_wait_seconds_count"][0].value == 3
