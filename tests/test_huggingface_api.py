"""The Hugging Face Inference API over real uvicorn: pipeline outputs, parameters, cache, loading, errors."""

from __future__ import annotations

import base64
import threading
from decimal import Decimal

import httpx
import pytest
from api_support import DETR, PNG, RESNET, VIT, WEBP, HeldStore, busy_slot, http, ledger_rows, make_service, serve

from runtime.service import Caller

pytestmark = pytest.mark.timeout(120)

DETR_HF = "facebook/detr-resnet-50"
RESNET_HF = "microsoft/resnet-50"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    service = make_service(tmp_path_factory.mktemp("hf"))
    with serve(service) as base:
        yield service, base


def url(base: str, hf_id: str) -> str:
    return f"{base}/hf-inference/models/{hf_id}"


def expected(service, model: str, data: bytes, params=None):
    return service.run_sync(model, data, params, Caller(source="cli")).result


def payload(data: bytes, **extra) -> dict:
    return {"inputs": base64.b64encode(data).decode(), **extra}


def assert_error(r: httpx.Response, status: int, text: str = "") -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, dict) and isinstance(body["error"], str), body
    assert text in body["error"], body
    assert r.headers["x-emu-cost-usd"] == "0" and r.headers["x-emu-request-id"]
    return body


def no_cache() -> dict:
    return {"x-use-cache": "false"}


# --- success ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hf_id, model", [(DETR_HF, DETR), (RESNET_HF, RESNET), (VIT, VIT)])
def test_raw_bytes_give_the_pipeline_output(server, hf_id, model):
    service, base = server
    r = http.post(url(base, hf_id), content=WEBP, headers={"content-type": "image/webp", **no_cache()})
    assert r.status_code == 200, r.text
    assert r.json() == expected(service, model, WEBP)
    assert r.headers["x-compute-type"] == "cpu"
    assert float(r.headers["x-compute-time"]) >= 0
    assert Decimal(r.headers["x-emu-cost-usd"]) == service.catalog.get(model).price


def test_json_base64_with_parameters(server):
    service, base = server
    r = http.post(url(base, DETR_HF), json=payload(PNG, parameters={"threshold": 0.05}), headers=no_cache())
    assert r.status_code == 200, r.text
    assert r.json() == expected(service, DETR, PNG, {"threshold": 0.05})
    r = http.post(
        url(base, RESNET_HF),
        json=payload(PNG, parameters={"top_k": 2, "function_to_apply": "sigmoid"}),
        headers=no_cache(),
    )
    assert r.json() == expected(service, RESNET, PNG, {"top_k": 2, "function_to_apply": "sigmoid"})
    assert len(r.json()) == 2
    assert r.json() != expected(service, RESNET, PNG, {"top_k": 2})


def test_null_parameters_mean_the_default(server):
    service, base = server
    r = http.post(url(base, DETR_HF), json=payload(PNG, parameters={"threshold": None}), headers=no_cache())
    assert r.json() == expected(service, DETR, PNG)


def test_a_data_url_is_accepted_as_base64(server):
    service, base = server
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    r = http.post(url(base, RESNET_HF), json={"inputs": data_url}, headers=no_cache())
    assert r.json() == expected(service, RESNET, PNG)


def test_requests_are_metered_as_hf_under_the_header_request_id(server):
    service, base = server
    r = http.post(url(base, RESNET_HF), content=PNG, headers=no_cache())
    rows = [row for row in ledger_rows(service) if row["request_id"] == r.headers["x-emu-request-id"]]
    assert len(rows) == 1
    assert (rows[0]["source"], rows[0]["model"], rows[0]["outcome"]) == ("hf", RESNET, "ok")
    assert rows[0]["route"] == f"/hf-inference/models/{RESNET_HF}"


# --- cache -----------------------------------------------------------------------------------------------------


def test_identical_requests_are_cached_marked_and_not_billed(tmp_path):
    service = make_service(tmp_path)
    with serve(service) as base:
        first = http.post(url(base, DETR_HF), content=PNG)
        again = http.post(url(base, DETR_HF), content=PNG)
        as_json = http.post(url(base, DETR_HF), json=payload(PNG))  # same image, same (default) parameters
        other_params = http.post(url(base, DETR_HF), json=payload(PNG, parameters={"threshold": 0.1}))
        skipped = http.post(url(base, DETR_HF), content=PNG, headers=no_cache())
        legacy_skip = http.post(url(base, DETR_HF), json=payload(PNG, options={"use_cache": False}))
        header_wins = http.post(
            url(base, DETR_HF), json=payload(PNG, options={"use_cache": False}), headers={"x-use-cache": "true"}
        )
    assert [
        r.headers["x-emu-cache"] for r in (first, again, as_json, other_params, skipped, legacy_skip, header_wins)
    ] == ["miss", "hit", "hit", "miss", "miss", "miss", "hit"]
    assert first.json() == again.json() == as_json.json() == skipped.json()
    price = service.catalog.get(DETR).price
    assert Decimal(first.headers["x-emu-cost-usd"]) == price
    assert again.headers["x-emu-cost-usd"] == "0"
    costs = {row["request_id"]: (Decimal(row["cost"]), row["cache_hit"]) for row in ledger_rows(service)}
    assert costs[again.headers["x-emu-request-id"]] == (0, 1)
    assert costs[skipped.headers["x-emu-request-id"]] == (price, 0)


# --- loading ---------------------------------------------------------------------------------------------------


def test_a_loading_model_answers_503_with_estimated_time_unless_asked_to_wait(tmp_path):
    store = HeldStore(tmp_path)
    service = make_service(tmp_path, store=store, weights="real")
    with serve(service) as base:
        r = http.post(url(base, DETR_HF), content=PNG)
        body = assert_error(r, 503, "is currently loading")
        assert DETR_HF in body["error"]
        assert isinstance(body["estimated_time"], (int, float)) and body["estimated_time"] > 0
        legacy = http.post(url(base, DETR_HF), json=payload(PNG, options={"wait_for_model": False}))
        assert_error(legacy, 503, "is currently loading")

        timer = threading.Timer(1.0, store.release.set)
        timer.start()
        try:
            waited = http.post(url(base, DETR_HF), content=PNG, headers={"x-wait-for-model": "true"}, timeout=60)
        finally:
            timer.cancel()
        assert waited.status_code == 200, waited.text
        assert waited.json() == expected(service, DETR, PNG)
    outcomes = [row["outcome"] for row in ledger_rows(service) if row["source"] == "hf"]
    assert outcomes == ["error:3040", "error:3040", "ok"]


def test_legacy_wait_for_model_option_waits(tmp_path):
    store = HeldStore(tmp_path)
    service = make_service(tmp_path, store=store)
    with serve(service) as base:
        timer = threading.Timer(1.0, store.release.set)
        timer.start()
        try:
            r = http.post(url(base, RESNET_HF), json=payload(PNG, options={"wait_for_model": True}), timeout=60)
        finally:
            timer.cancel()
        assert r.status_code == 200 and r.json() == expected(service, RESNET, PNG)


# --- errors ----------------------------------------------------------------------------------------------------


def test_unknown_model_is_404(server):
    _, base = server
    assert_error(http.post(url(base, "nobody/nothing"), content=PNG), 404, "nobody/nothing")


@pytest.mark.parametrize(
    "body, text",
    [
        ({"inputs": base64.b64encode(PNG).decode(), "parameters": {"top_k": 3}}, "top_k"),
        ({"inputs": base64.b64encode(PNG).decode(), "parameters": {"threshold": "high"}}, "'threshold'"),
        ({"inputs": base64.b64encode(PNG).decode(), "parameters": {"threshold": 2}}, "'threshold'"),
        ({"inputs": base64.b64encode(PNG).decode(), "parameters": [0.5]}, "'parameters'"),
        ({"inputs": base64.b64encode(PNG).decode(), "options": {"use_cache": "perhaps"}}, "use_cache"),
        ({"inputs": base64.b64encode(PNG).decode(), "options": {"fast": True}}, "'fast'"),
        ({"inputs": base64.b64encode(PNG).decode(), "model": "x"}, "'model'"),
        ({"inputs": "***not base64***"}, "base64"),
        ({"inputs": "https://example.com/cat.png"}, "URL"),
        ({"inputs": [1, 2, 3]}, "'inputs'"),
        ({"parameters": {}}, "'inputs'"),
        ({"inputs": base64.b64encode(b"not an image at all").decode()}, ""),
    ],
)
def test_bad_payloads_and_parameters_are_400_and_named(server, body, text):
    _, base = server
    assert_error(http.post(url(base, DETR_HF), json=body), 400, text)


def test_classification_parameters_are_checked(server):
    _, base = server
    assert_error(http.post(url(base, RESNET_HF), json=payload(PNG, parameters={"threshold": 0.5})), 400, "threshold")
    assert_error(http.post(url(base, RESNET_HF), json=payload(PNG, parameters={"top_k": 0})), 400, "'top_k'")
    assert_error(
        http.post(url(base, RESNET_HF), json=payload(PNG, parameters={"function_to_apply": "max"})),
        400,
        "'function_to_apply'",
    )


def test_bad_bodies_are_400(server):
    _, base = server
    assert_error(
        http.post(url(base, DETR_HF), content=b"{oops", headers={"content-type": "application/json"}), 400, "JSON"
    )
    assert_error(
        http.post(url(base, DETR_HF), content=b'"just a string"', headers={"content-type": "application/json"}),
        400,
        "object",
    )
    assert_error(http.post(url(base, DETR_HF), content=b"GIF89a broken", headers={"content-type": "image/gif"}), 400)
    assert_error(http.post(url(base, DETR_HF), content=b""), 400)
    assert_error(
        http.post(url(base, DETR_HF), content=PNG, headers={"x-wait-for-model": "maybe"}), 400, "x-wait-for-model"
    )


def test_too_large_is_413(tmp_path):
    service = make_service(tmp_path, max_body_bytes=1000)
    with serve(service) as base:
        assert_error(http.post(url(base, DETR_HF), content=bytes(5000)), 413)


def test_capacity_and_timeout(tmp_path):
    service = make_service(tmp_path, max_queue=0)
    with serve(service) as base:
        service.pool.get_sync(service.catalog.get(DETR))
        with busy_slot(service):
            assert_error(http.post(url(base, DETR_HF), content=PNG, headers=no_cache()), 429)
    service = make_service(tmp_path / "t", queue_timeout_s=0.2)
    with serve(service) as base:
        service.pool.get_sync(service.catalog.get(DETR))
        with busy_slot(service):
            assert_error(http.post(url(base, DETR_HF), content=PNG, headers=no_cache()), 504)


def test_api_token(tmp_path):
    service = make_service(tmp_path, api_token="hf-s3cret")
    with serve(service) as base:
        assert_error(http.post(url(base, DETR_HF), content=PNG), 401)
        assert_error(http.post(url(base, DETR_HF), content=PNG, headers={"authorization": "Bearer nope"}), 401)
        ok = http.post(url(base, DETR_HF), content=PNG, headers={"authorization": "Bearer hf-s3cret"})
        assert ok.status_code == 200 and ok.json() == expected(service, DETR, PNG)


@pytest.mark.parametrize(
    "method, path",
    [("GET", f"/hf-inference/models/{DETR_HF}"), ("GET", "/hf-inference/"), ("POST", "/hf-inference/other/thing")],
)
def test_no_route_is_404_json(server, method, path):
    _, base = server
    assert_error(http.request(method, base + path), 404, "No route")


def test_never_a_500_for_any_body(server):
    """Seeded junk of every kind: always `{"error": ...}` with a 4xx, or a 200."""
    import random

    _, base = server
    rng = random.Random(4321)
    blobs = [rng.randbytes(rng.randint(1, 3000)) for _ in range(8)] + [PNG[:200], b"BM" + bytes(60)]
    bodies = blobs + [
        b"{",
        b"[]",
        b'{"inputs": null}',
        b'{"inputs": ""}',
        b'{"inputs": "===="}',
        b'{"inputs": "' + base64.b64encode(b"GIF89a" + bytes(20)) + b'"}',
        b'{"inputs": "' + base64.b64encode(PNG).decode().encode() + b'", "parameters": {"top_k": 1e9}}',
        b'{"inputs": "' + base64.b64encode(PNG).decode().encode() + b'", "parameters": {"threshold": NaN}}',
    ]
    for i, body in enumerate(bodies):
        headers = [{}, {"content-type": "application/json"}, {"content-type": "application/octet-stream"}][i % 3]
        for hf_id in (DETR_HF, RESNET_HF):
            r = http.post(url(base, hf_id), content=body, headers={**headers, **no_cache()})
            assert r.status_code < 500, (body[:40], r.text)
            assert (r.status_code == 200) is isinstance(r.json(), list)
