"""Cloudflare's Workers AI REST API over real uvicorn: results equal the service's, every error row has its code."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from api_support import DETR, PNG, RESNET, VIT, WEBP, busy_slot, http, ledger_rows, make_service, serve

from runtime.service import Caller

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    service = make_service(tmp_path_factory.mktemp("cf"))
    with serve(service) as base:
        yield service, base


def run_url(base: str, model: str, account: str = "acc") -> str:
    return f"{base}/client/v4/accounts/{account}/ai/run/{model}"


def expected(service, model: str, inputs, params=None):
    return service.run_sync(model, inputs, params, Caller(source="cli")).result


def assert_error(r: httpx.Response, status: int, code: int, text: str = "") -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and body["result"] == {} and body["messages"] == []
    assert [e["code"] for e in body["errors"]] == [code], body
    assert text in body["errors"][0]["message"]
    assert r.headers["x-emu-cost-usd"] == "0"
    assert len(r.headers["x-emu-request-id"]) >= 16
    return body


# --- run -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_in_url", [DETR, "%40cf%2Ffacebook%2Fdetr-resnet-50", "@cf%2Ffacebook%2Fdetr-resnet-50"])
def test_raw_bytes_run_equals_the_service_under_any_model_spelling(server, model_in_url):
    service, base = server
    r = http.post(run_url(base, model_in_url), content=PNG, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    assert body["result"] == expected(service, DETR, PNG)
    assert body["result"], "the fixture DETR finds boxes in this image at the default threshold"


def test_json_uint8_array_equals_raw_bytes_and_the_service(server):
    service, base = server
    as_json = http.post(run_url(base, RESNET), json={"image": list(WEBP)})
    raw = http.post(run_url(base, RESNET), content=WEBP, headers={"content-type": "application/octet-stream"})
    assert as_json.status_code == raw.status_code == 200
    assert as_json.json()["result"] == raw.json()["result"] == expected(service, RESNET, WEBP)


def test_json_without_content_type_and_bytes_without_content_type(server):
    service, base = server
    r = http.post(run_url(base, RESNET), content=b'{"image": %s, "top_k": 2}' % str(list(PNG)).encode())
    assert r.status_code == 200, r.text
    assert r.json()["result"] == expected(service, RESNET, PNG, {"top_k": 2})
    assert len(r.json()["result"]) == 2
    r = http.post(run_url(base, RESNET), content=PNG)
    assert r.json()["result"] == expected(service, RESNET, PNG)


def test_curl_style_form_content_types(server):
    """`curl -d @body.json` labels JSON as a form, and `curl --data-binary @cat.png` labels the image one too."""
    service, base = server
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = http.post(run_url(base, RESNET), content=b'{"image": %s}' % str(list(PNG)).encode(), headers=form)
    assert r.status_code == 200 and r.json()["result"] == expected(service, RESNET, PNG)
    r = http.post(run_url(base, RESNET), content=PNG, headers=form)
    assert r.status_code == 200 and r.json()["result"] == expected(service, RESNET, PNG)
    r = http.post(run_url(base, RESNET), content=b'{"image": [1]}', headers={"content-type": "image/png"})
    assert_error(r, 400, 5006)  # an explicit image type is taken at its word: these bytes are no image


def test_parameters_in_the_json_object_reach_the_model(server):
    service, base = server
    r = http.post(run_url(base, DETR), json={"image": list(PNG), "threshold": 0.05})
    assert r.json()["result"] == expected(service, DETR, PNG, {"threshold": 0.05})
    assert len(r.json()["result"]) > len(expected(service, DETR, PNG))


def test_each_answer_is_metered_once_under_its_request_id_and_cost_header(server):
    service, base = server
    r = http.post(run_url(base, DETR, account="my-account"), content=PNG)
    rid, cost = r.headers["x-emu-request-id"], r.headers["x-emu-cost-usd"]
    assert Decimal(cost) == service.catalog.get(DETR).price
    rows = [row for row in ledger_rows(service) if row["request_id"] == rid]
    assert len(rows) == 1
    row = rows[0]
    assert (row["source"], row["model"], Decimal(row["cost"]), row["outcome"]) == ("rest", DETR, Decimal(cost), "ok")
    assert row["route"] == f"/client/v4/accounts/my-account/ai/run/{DETR}"


# --- run: errors -----------------------------------------------------------------------------------------------


def test_unknown_model_is_5007(server):
    _, base = server
    r = http.post(run_url(base, "@cf/nobody/nothing"), content=PNG)
    assert_error(r, 400, 5007, "@cf/nobody/nothing")


def test_a_hugging_face_only_id_is_not_a_workers_ai_name(server):
    _, base = server
    assert_error(http.post(run_url(base, "facebook/detr-resnet-50"), content=PNG), 400, 5007)


@pytest.mark.parametrize(
    "body, headers, text",
    [
        (b"this is not an image", {"content-type": "image/png"}, "Bad input"),
        (b"{not json", {"content-type": "application/json"}, "not valid JSON"),
        (b"[1, 2, 3]", {"content-type": "application/json"}, "must be an object"),
        (b'{"picture": [1, 2]}', {"content-type": "application/json"}, "required properties at '/' are 'image'"),
        (b'{"image": [1, 256]}', {"content-type": "application/json"}, "256"),
        (b'{"image": "aGVsbG8="}', {"content-type": "application/json"}, "'image'"),
        (b'{"image": []}', {"content-type": "application/json"}, "empty"),
        (b'{"image": [137, 80], "top_k": 3}', {"content-type": "application/json"}, "properties '/top_k' at '/'"),
        (b'{"image": [137, 80], "threshold": "high"}', {"content-type": "application/json"}, "'threshold'"),
    ],
)
def test_bad_input_is_5006_with_the_ai_error_prefix(server, body, headers, text):
    _, base = server
    r = http.post(run_url(base, DETR), content=body, headers=headers)
    body_json = assert_error(r, 400, 5006, text)
    message = body_json["errors"][0]["message"]
    # Schema mismatches are worded as Cloudflare's validator words them ("Error: ..."); the rest "AiError: Bad input:"
    prefix = "Error: " if "properties" in message else "AiError: Bad input: "
    assert message.startswith(prefix)


def test_bad_input_failures_are_metered_at_zero(server):
    service, base = server
    r = http.post(run_url(base, DETR), content=b"garbage bytes", headers={"content-type": "image/jpeg"})
    rows = [row for row in ledger_rows(service) if row["request_id"] == r.headers["x-emu-request-id"]]
    assert [(row["outcome"], Decimal(row["cost"])) for row in rows] == [("error:5006", 0)]


def test_empty_body_is_3003(server):
    _, base = server
    assert_error(http.post(run_url(base, DETR), content=b""), 400, 3003)
    assert_error(http.post(run_url(base, DETR)), 400, 3003)


def test_too_large_is_3006_by_content_length_and_by_streamed_size(tmp_path):
    limit = len(PNG) + 100
    service = make_service(tmp_path, max_body_bytes=limit)
    big = PNG + bytes(3000)
    with serve(service) as base:
        assert_error(http.post(run_url(base, DETR), content=big), 413, 3006, str(limit))

        def chunks():  # no Content-Length: the size is only known while reading
            for i in range(0, len(big), 4096):
                yield big[i : i + 4096]

        r = http.post(run_url(base, DETR), content=chunks())
        assert "content-length" not in r.request.headers
        assert_error(r, 413, 3006, str(limit))
        assert http.post(run_url(base, DETR), content=PNG).status_code == 200  # under the limit


def test_waiting_too_long_for_a_slot_is_3007(tmp_path):
    service = make_service(tmp_path, queue_timeout_s=0.2)
    with serve(service) as base:
        service.pool.get_sync(service.catalog.get(DETR))  # loaded, so only the slot wait is timed
        with busy_slot(service):
            r = http.post(run_url(base, DETR), content=PNG)
        assert_error(r, 408, 3007)
        assert http.post(run_url(base, DETR), content=PNG).status_code == 200


def test_a_full_queue_is_3040(tmp_path):
    service = make_service(tmp_path, max_queue=0)
    with serve(service) as base:
        service.pool.get_sync(service.catalog.get(DETR))
        with busy_slot(service):
            r = http.post(run_url(base, DETR), content=PNG)
        assert_error(r, 429, 3040)
        assert http.post(run_url(base, DETR), content=PNG).status_code == 200


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", f"/client/v4/accounts/acc/ai/run/{DETR}"),
        ("PUT", f"/client/v4/accounts/acc/ai/run/{DETR}"),
        ("POST", "/client/v4/accounts/acc/ai/models/search"),
        ("GET", "/client/v4/accounts/acc/ai/nothing-here"),
        ("GET", "/client/v4/zones"),
        ("GET", "/client/v4"),
        ("DELETE", "/client/v4/accounts/acc"),
    ],
)
def test_no_route_is_7000(server, method, path):
    _, base = server
    assert_error(http.request(method, base + path), 400, 7000)


def test_api_token_is_required_when_configured(tmp_path):
    service = make_service(tmp_path, api_token="s3cret-token")
    with serve(service) as base:
        url = run_url(base, DETR)
        assert_error(http.post(url, content=PNG), 401, 10000)
        assert_error(http.post(url, content=PNG, headers={"authorization": "Bearer wrong"}), 401, 10000)
        assert_error(http.post(url, content=PNG, headers={"authorization": "Basic s3cret-token"}), 401, 10000)
        search = f"{base}/client/v4/accounts/acc/ai/models/search"
        assert_error(http.get(search), 401, 10000)
        r = http.post(url, content=PNG, headers={"authorization": "Bearer s3cret-token"})
        assert r.status_code == 200 and r.json()["result"] == expected(service, DETR, PNG)
        assert http.get(search, headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        assert all("s3cret" not in text for text in (r.text, str(r.headers)))


# --- models search ---------------------------------------------------------------------------------------------


def search(base: str, **params) -> httpx.Response:
    return http.get(f"{base}/client/v4/accounts/acc/ai/models/search", params=params)


def test_search_lists_the_listed_models_shaped_like_cloudflare(server):
    service, base = server
    r = search(base)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["errors"] == []
    listed = sorted(e.name for e in service.catalog if e.listed)
    assert [m["name"] for m in body["result"]] == listed
    assert VIT not in listed
    assert body["result_info"] == {"page": 1, "per_page": 20, "count": len(listed), "total_count": len(listed)}
    detr = next(m for m in body["result"] if m["name"] == DETR)
    entry = service.catalog.get(DETR)
    assert uuid.UUID(detr["id"]).version == 5
    assert detr["description"] == entry.description and detr["tags"] == []
    assert detr["task"]["name"] == "Object Detection" and uuid.UUID(detr["task"]["id"])
    props = {p["property_id"]: p["value"] for p in detr["properties"]}
    assert props["beta"] == ("true" if entry.beta else "false")
    assert props["price"] == [{"unit": "per inference request", "price": float(entry.price), "currency": "USD"}]
    assert search(base).json()["result"] == body["result"], "ids are stable"


def test_search_filters(server):
    service, base = server
    names = lambda r: [m["name"] for m in r.json()["result"]]  # noqa: E731
    detection = sorted(e.name for e in service.catalog if e.listed and e.task == "object-detection")
    assert names(search(base, task="Object Detection")) == detection
    assert names(search(base, task="object-detection")) == detection
    task_id = next(m for m in search(base).json()["result"] if m["name"] == DETR)["task"]["id"]
    assert names(search(base, task=task_id.upper())) == detection
    assert names(search(base, author="facebook")) == [DETR]
    assert names(search(base, author="Microsoft")) == [RESNET]
    assert names(search(base, author="nobody")) == []
    assert names(search(base, search="RESNET-50")) == sorted([DETR, RESNET])  # name or description
    assert names(search(base, search="convolutional")) == [RESNET]
    assert names(search(base, search="convolutional", task="object-detection")) == []


def test_search_pages(server):
    service, base = server
    listed = sorted(e.name for e in service.catalog if e.listed)
    pages = [search(base, per_page=1, page=p).json() for p in range(1, len(listed) + 2)]
    assert [m["name"] for page in pages for m in page["result"]] == listed
    assert pages[0]["result_info"] == {"page": 1, "per_page": 1, "count": 1, "total_count": len(listed)}
    assert pages[-1]["result"] == [] and pages[-1]["result_info"]["count"] == 0
    assert_error(search(base, page=0), 400, 5006, "'page'")
    assert_error(search(base, page=10**21), 400, 5006, "'page'")  # found by schemathesis: was a 500 (3043)
    assert_error(search(base, per_page="lots"), 400, 5006, "'per_page'")


# --- schema ----------------------------------------------------------------------------------------------------


def schema(base: str, model: str | None) -> httpx.Response:
    params = {"model": model} if model is not None else {}
    return http.get(f"{base}/client/v4/accounts/acc/ai/models/schema", params=params)


def test_schema_of_object_detection(server):
    _, base = server
    body = schema(base, DETR).json()
    assert body["success"] is True
    inp, out = body["result"]["input"], body["result"]["output"]
    assert inp["type"] == "object" and inp["required"] == ["image"]
    assert inp["properties"]["image"]["type"] == "array"
    assert inp["properties"]["image"]["items"].items() >= {"type": "integer", "minimum": 0, "maximum": 255}.items()
    assert inp["properties"]["threshold"]["default"] == 0.5
    assert out["type"] == "array"
    item = out["items"]["properties"]
    assert set(item) == {"score", "label", "box"}
    assert set(item["box"]["properties"]) == {"xmin", "ymin", "xmax", "ymax"}


def test_schema_of_image_classification_matches_real_outputs(server):
    service, base = server
    body = schema(base, RESNET).json()["result"]
    assert set(body["output"]["items"]["properties"]) == {"label", "score"}
    result = expected(service, RESNET, PNG)
    assert all(set(item) == set(body["output"]["items"]["properties"]) for item in result)
    detr = schema(base, DETR).json()["result"]["output"]["items"]["properties"]
    assert all(set(item) == set(detr) for item in expected(service, DETR, PNG, {"threshold": 0.0}))


def test_schema_errors(server):
    _, base = server
    assert_error(schema(base, "@cf/nobody/nothing"), 400, 5007)
    assert_error(schema(base, None), 400, 5006, "'model'")


def test_a_spent_budget_is_3036(tmp_path):
    service = make_service(tmp_path, budget_usd_per_day=Decimal("0"))
    with serve(service) as base:
        assert_error(http.post(run_url(base, DETR), content=PNG), 429, 3036)


def test_never_a_500_for_any_body(server):
    """Seeded junk of every kind, with and without content types: always a 4xx envelope or a 200."""
    import random

    _, base = server
    rng = random.Random(1234)
    bodies = [rng.randbytes(rng.randint(1, 3000)) for _ in range(12)]
    bodies += [
        b"{",
        b"{}",
        b"null",
        b'{"image": null}',
        b'{"image": {"a": 1}}',
        b'{"image": [[1, 2]]}',
        b'{"image": [1e400]}',
        b'{"image": [-1]}',
        b'{"image": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'\xff\xfe{"image": [1]}',
        PNG[:100],
        PNG[: len(PNG) // 2],
        b"\x89PNG\r\n\x1a\n" + bytes(64),
    ]
    for i, body in enumerate(bodies):
        headers = [{}, {"content-type": "application/json"}, {"content-type": "image/png"}][i % 3]
        for model in (DETR, RESNET):
            r = http.post(run_url(base, model), content=body, headers=headers)
            assert r.status_code < 500, (body[:40], r.text)
            assert r.json()["success"] is (r.status_code == 200)
