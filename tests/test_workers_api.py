"""The Python Workers API and env.AI, exercised through a real server: Workers in both styles, called with httpx."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from support import DETR, make_service
from worker_support import IMAGE, WORKERS, serve, worker_settings

from runtime.service import Caller, InferenceService
from runtime.workers import Headers, Request, Response

IMAGE_BYTES = IMAGE.read_bytes()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceService]:
    svc = make_service(tmp_path_factory.mktemp("state"))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def expected(service: InferenceService) -> list[dict]:
    """What the inference core returns for the test image; every door must return exactly this."""
    result = service.run_sync(DETR, IMAGE_BYTES, caller=Caller(source="cli")).result
    assert result and all({"score", "label", "box"} <= set(d) for d in result)
    return result


@pytest.fixture(scope="module")
def entry_url(service: InferenceService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = worker_settings(
        WORKERS / "entrypoint_style.py",
        tmp_path_factory.mktemp("w"),
        name="api-test",
        vars={"GREETING": "hello"},
        secrets={"API_TOKEN": "s3cret-value"},
    )
    with serve(service, settings) as (url, _):
        yield url


def test_entrypoint_binding_equals_service_for_raw_bytes(entry_url: str, expected: list[dict]) -> None:
    r = httpx.post(f"{entry_url}/detect/raw", content=IMAGE_BYTES)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == expected


def test_entrypoint_binding_equals_service_for_uint8_array(entry_url: str, expected: list[dict]) -> None:
    r = httpx.post(f"{entry_url}/detect/array", json={"image": list(IMAGE_BYTES)})
    assert r.status_code == 200, r.text
    assert r.json() == expected


def test_multipart_upload_reaches_the_binding(entry_url: str, expected: list[dict]) -> None:
    r = httpx.post(
        f"{entry_url}/detect/form", files={"image": ("cat.png", IMAGE_BYTES, "image/png")}, data={"note": "x"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == expected


def test_on_fetch_style(service: InferenceService, expected: list[dict], tmp_path: Path) -> None:
    with serve(service, worker_settings(WORKERS / "on_fetch_style.py", tmp_path)) as (url, _):
        r = httpx.post(f"{url}/anything/here", content=IMAGE_BYTES)
    assert r.status_code == 200, r.text
    assert r.json() == expected


def test_binding_calls_are_metered_with_worker_and_route(service: InferenceService, entry_url: str) -> None:
    before = service.ledger.spent_on(time.strftime("%Y-%m-%d", time.gmtime()))
    r = httpx.post(f"{entry_url}/detect/raw", content=IMAGE_BYTES)
    assert r.status_code == 200
    after = service.ledger.spent_on(time.strftime("%Y-%m-%d", time.gmtime()))
    assert after - before == service.catalog.get(DETR).price
    row = service.ledger.latest(1)[0]
    assert (row["source"], row["worker"], row["route"], row["outcome"]) == ("binding", "api-test", "/detect/raw", "ok")


BAD_INPUTS = [
    ({"image": [0, 12, 256]}, "5006"),
    ({"image": [-1, 3]}, "5006"),
    ({"image": [1.5, 2.0]}, "5006"),
    ({"image": ["a", "b"]}, "5006"),
    ({"image": [[1, 2], [3]]}, "5006"),
    ({"image": []}, "5006"),
    ({"image": list(b"this is not an image at all")}, "5006"),
    ({"picture": [1, 2, 3]}, "5006"),
    ("a string", "5006"),
]


@pytest.mark.parametrize("inputs,code", BAD_INPUTS, ids=[str(i) for i in range(len(BAD_INPUTS))])
def test_bad_inputs_raise_coded_error_the_worker_catches(entry_url: str, inputs: object, code: str) -> None:
    r = httpx.post(f"{entry_url}/bad", json={"model": DETR, "inputs": inputs})
    assert r.status_code == 422, r.text  # the Worker caught it and chose its own status
    body = r.json()
    assert body["type"] == "InferenceUpstreamError"
    assert body["caught"].startswith(f"{code}: "), body


def test_tags_and_an_abort_signal_from_js_work_in_a_worker(entry_url: str, service: InferenceService) -> None:
    answer = httpx.post(f"{entry_url}/tagged", content=IMAGE_BYTES, timeout=60)
    assert answer.status_code == 200, answer.text
    row = next(r for r in service.ledger.latest(20) if r["request_id"] == answer.json()["id"])
    assert json.loads(str(row["tags"])) == ["route:tagged", "v2"] and row["outcome"] == "ok"
    expired = httpx.post(f"{entry_url}/tagged", content=IMAGE_BYTES, headers={"x-timeout-ms": "0"}, timeout=60)
    assert expired.status_code == 504
    assert expired.json() == {"aborted": "TimeoutError: The operation was aborted due to timeout"}


def test_request_cf_is_a_plausible_local_location(entry_url: str) -> None:
    cf = httpx.get(f"{entry_url}/cf", headers={"accept-encoding": "gzip, br"}).json()
    assert cf["colo"] == "LOCAL" and cf["country"] == "US" and cf["httpProtocol"] == "HTTP/1.1"
    assert cf["clientAcceptEncoding"] == "gzip, br" and isinstance(cf["asn"], int) and cf["timezone"]


def test_unknown_model_raises_5007(entry_url: str) -> None:
    r = httpx.post(f"{entry_url}/bad", json={"model": "@cf/nobody/nothing", "inputs": {"image": [1, 2]}})
    assert r.status_code == 422
    assert r.json()["caught"].startswith("5007: No such model @cf/nobody/nothing")


def test_env_carries_vars_secrets_and_sibling_modules_import(entry_url: str) -> None:
    r = httpx.get(f"{entry_url}/env")
    assert r.status_code == 200, r.text
    assert r.json() == {"greeting": "hello", "item": "hello", "has_token": True, "token_length": 12, "helper": "HI!"}


def test_models_lists_the_catalog(entry_url: str, service: InferenceService) -> None:
    r = httpx.get(f"{entry_url}/models")
    assert r.status_code == 200
    assert r.json() == [entry.name for entry in service.catalog]
    assert DETR in r.json()


def test_wait_until_runs_after_the_response(entry_url: str, tmp_path: Path) -> None:
    target = tmp_path / "later.txt"
    r = httpx.get(f"{entry_url}/later", headers={"x-file": str(target)})
    assert r.status_code == 200 and r.text == "scheduled"
    deadline = time.monotonic() + 10
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert target.read_text() == "done"


def test_redirect_status_headers_and_body_round_trip(entry_url: str) -> None:
    r = httpx.get(f"{entry_url}/redirect", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "https://example.com/next"
    r = httpx.put(f"{entry_url}/echo", content="héllo", headers={"x-test": "yes"})
    assert r.status_code == 201
    assert r.text == "héllo"
    assert r.headers["x-method"] == "PUT" and r.headers["x-seen"] == "yes"
    assert r.headers["content-type"].startswith("text/plain")
    r = httpx.get(f"{entry_url}/nowhere")
    assert r.status_code == 404 and r.text == "not found"


def test_no_main_answers_404_with_an_explanation(service: InferenceService, tmp_path: Path) -> None:
    with serve(service, worker_settings(None, tmp_path)) as (url, host):
        assert host is None
        r = httpx.get(f"{url}/some/page")
    assert r.status_code == 404
    assert "No Worker is configured" in r.text and "main" in r.text


# --- the API objects themselves ---------------------------------------------------------------------------


def test_request_reads_body_in_every_form() -> None:
    asyncio.run(_request_reads_body_in_every_form())


async def _request_reads_body_in_every_form() -> None:
    req = Request("http://x/p?q=1", "post", {"Content-Type": "application/json"}, b'{"name": "Ada", "n": [1]}')
    assert req.method == "POST"
    assert req.headers.get("content-type") == "application/json"
    assert await req.text() == '{"name": "Ada", "n": [1]}'
    assert await req.bytes() == b'{"name": "Ada", "n": [1]}'
    data = await req.json()
    assert data.name == "Ada" and data["n"] == [1]  # attribute access, as on Cloudflare's JS objects
    assert data.to_py() == {"name": "Ada", "n": [1]}


def test_response_constructors() -> None:
    asyncio.run(_response_constructors())


async def _response_constructors() -> None:
    r = Response.json({"a": np.float32(0.5), "b": [1, 2]}, status=201, headers={"X-A": "1"})
    assert r.status == 201 and r.headers["x-a"] == "1" and r.headers["content-type"] == "application/json"
    assert json.loads(r.body) == {"a": 0.5, "b": [1, 2]}
    assert (await r.json()) == {"a": 0.5, "b": [1, 2]}  # instance .json() reads, as in JavaScript
    assert Response.redirect("/x").headers["location"] == "/x" and Response.redirect("/x").status == 302
    assert Response(b"\x00\x01").body == b"\x00\x01"
    with pytest.raises(ValueError):
        Response("x", status=99)
    with pytest.raises(TypeError):
        Response({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Response.json({"s": {1, 2}})


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    h = Headers([("Accept", "a"), ("accept", "b"), ("X-One", "1")])
    assert h["ACCEPT"] == "a, b" and "x-one" in h and h.has("X-ONE")
    h.set("x-one", "2")
    h.delete("accept")
    assert dict(h) == {"x-one": "2"}


@pytest.mark.parametrize("kind", ["tuple", "bytearray"])
def test_binding_refuses_what_cloudflares_sdk_cannot_send(service: InferenceService, kind: str) -> None:
    """Cloudflare's Python SDK refuses tuples and bytearrays in RPC arguments (the AI binding's too)."""
    from runtime.bindings.ai import AiBinding

    image = {"tuple": tuple, "bytearray": bytearray}[kind](IMAGE_BYTES)
    rows = service.ledger.count()
    with pytest.raises(TypeError) as info:
        asyncio.run(AiBinding(service, "direct").run(DETR, {"image": image}))
    assert str(info.value) == f"<class '{kind}'> cannot be sent over RPC."
    with pytest.raises(TypeError):
        asyncio.run(AiBinding(service, "direct").run(DETR, {"image": list(IMAGE_BYTES), "extra": [(1, 2)]}))
    assert service.ledger.count() == rows  # refused before any request: nothing billed, no row


@pytest.mark.parametrize("kind", ["list", "bytes", "memoryview", "numpy"])
def test_binding_accepts_every_uint8_container(service: InferenceService, expected: list[dict], kind: str) -> None:
    from runtime.bindings.ai import AiBinding

    image = {
        "list": list,
        "bytes": bytes,
        "memoryview": memoryview,
        "numpy": lambda b: np.frombuffer(b, dtype=np.uint8),
    }[kind](IMAGE_BYTES)
    result = asyncio.run(AiBinding(service, "direct").run(DETR, {"image": image}))
    assert result == expected
    assert result.to_py() == expected  # Pyodide-style code calls .to_py() on binding results
