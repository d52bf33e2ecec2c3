"""AI Gateway's cache (runtime/gateway.py) through the binding's `gateway` option and REST's cf-aig-* headers,
and the binding's rejectIfBusy."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from api_support import DETR, PNG, WEBP, busy_slot, ledger_rows, make_service, serve

import runtime.gateway
from runtime.bindings.ai import AiBinding
from runtime.workers import InferenceUpstreamError


def run(binding, inputs, options=None):
    return asyncio.run(binding.run(DETR, inputs, options))


def test_identical_requests_within_the_ttl_hit_and_cost_nothing(tmp_path, monkeypatch):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")
    gateway = {"id": "my-gateway", "cacheTtl": 3600, "metadata": {"team": "vision"}}
    image = {"image": list(PNG)}
    first = run(binding, image, {"gateway": gateway, "returnRawResponse": True})
    second = run(binding, image, {"gateway": gateway, "returnRawResponse": True})
    assert first.headers.get("cf-aig-cache-status") == "MISS" and second.headers.get("cf-aig-cache-status") == "HIT"
    assert asyncio.run(second.json()) == asyncio.run(first.json()) == run(binding, image)
    assert binding.aiGatewayLogId is None  # the last call had no gateway
    skipped = run(binding, image, {"gateway": {**gateway, "skipCache": True}, "returnRawResponse": True})
    other = run(binding, {"image": list(WEBP)}, {"gateway": gateway, "returnRawResponse": True})
    assert skipped.headers["cf-aig-cache-status"] == "MISS" and other.headers["cf-aig-cache-status"] == "MISS"
    real_clock = time.monotonic
    monkeypatch.setattr(runtime.gateway.time, "monotonic", lambda: real_clock() + 3601)  # the TTL has passed
    expired = run(binding, image, {"gateway": gateway, "returnRawResponse": True})
    assert expired.headers["cf-aig-cache-status"] == "MISS"
    rows = ledger_rows(service)
    price = str(service.catalog.get(DETR).price)
    assert [(r["cost"], r["cache_hit"]) for r in rows] == [
        (price, 0),
        ("0", 1),
        (price, 0),
        (price, 0),
        (price, 0),
        (price, 0),
    ]
    assert json.loads(rows[1]["metadata"]) == {"team": "vision"} and rows[2]["metadata"] is None
    service.close()


def test_a_cache_key_names_the_entry_and_bad_options_are_refused(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")
    keyed = {"id": "g", "cacheTtl": 60, "cacheKey": "cats"}
    run(binding, {"image": list(PNG)}, {"gateway": keyed})
    hit = run(binding, {"image": list(WEBP)}, {"gateway": keyed, "returnRawResponse": True})
    assert hit.headers["cf-aig-cache-status"] == "HIT"  # the same key, whatever the input
    for bad in (
        {"id": "g", "cacheTtl": 59},
        {"id": "g", "cacheTtl": 2_592_001},
        {"cacheTtl": 60},
        {"id": "g", "colour": 1},
    ):
        with pytest.raises(InferenceUpstreamError) as info:
            run(binding, {"image": list(PNG)}, {"gateway": bad})
        assert str(info.value).startswith("5006: AiError: Bad input: ")
    rows = ledger_rows(service)
    assert [r["outcome"] for r in rows[2:]] == ["error:5006"] * 4 and {r["cost"] for r in rows[2:]} == {"0"}
    service.close()


def test_rest_cf_aig_headers(tmp_path):
    service = make_service(tmp_path)
    url = f"/client/v4/accounts/a/ai/run/{DETR}"
    headers = {"cf-aig-cache-ttl": "120", "cf-aig-metadata": '{"run": 7}'}
    with serve(service) as base, httpx.Client(base_url=base, timeout=60) as http:
        miss = http.post(url, content=PNG, headers=headers)
        hit = http.post(url, content=PNG, headers=headers)
        skip = http.post(url, content=PNG, headers={**headers, "cf-aig-skip-cache": "true"})
        plain = http.post(url, content=PNG)
        bad = http.post(url, content=PNG, headers={"cf-aig-cache-ttl": "10"})
    assert miss.headers["cf-aig-cache-status"] == "MISS" and hit.headers["cf-aig-cache-status"] == "HIT"
    assert hit.headers["x-emu-cost-usd"] == "0" and miss.headers["x-emu-cost-usd"] != "0"
    assert hit.json()["result"] == miss.json()["result"] == plain.json()["result"]
    assert skip.headers["cf-aig-cache-status"] == "MISS" and "cf-aig-cache-status" not in plain.headers
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == 5006


def test_reject_if_busy_fails_at_once_when_no_slot_is_free(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")
    with busy_slot(service):
        started = time.perf_counter()
        with pytest.raises(InferenceUpstreamError) as info:
            run(binding, {"image": list(PNG)}, {"rejectIfBusy": True})
        assert time.perf_counter() - started < 5
    assert str(info.value) == "3040: Capacity temporarily exceeded, please try again."
    assert run(binding, {"image": list(PNG)}, {"rejectIfBusy": True})  # free again: it runs
    service.close()
