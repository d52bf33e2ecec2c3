"""The official clients, unmodified, against the emulator: Cloudflare's Python SDK and huggingface_hub's client."""

from __future__ import annotations

import threading

import cloudflare
import pytest
from api_support import DETR, IMAGES, PNG, RESNET, VIT, WEBP, HeldStore, busy_slot, make_service, serve
from cloudflare import Cloudflare
from huggingface_hub import InferenceClient, constants
from huggingface_hub.errors import HfHubHTTPError

from runtime.service import Caller

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    service = make_service(tmp_path_factory.mktemp("sdk"))
    with serve(service) as base:
        yield service, base


def expected(service, model: str, data: bytes, params=None):
    return service.run_sync(model, data, params, Caller(source="cli")).result


def cf_client(base: str, token: str = "any-token") -> Cloudflare:
    return Cloudflare(api_token=token, base_url=f"{base}/client/v4", max_retries=0)


def as_dicts(items) -> list[dict]:
    return [item.to_dict() for item in items]


# --- Cloudflare SDK --------------------------------------------------------------------------------------------


def test_cloudflare_sdk_runs_object_detection(server):
    service, base = server
    out = cf_client(base).ai.run(DETR, account_id="acc", image=list(PNG))
    assert as_dicts(out) == expected(service, DETR, PNG)
    assert out and isinstance(out[0].box.xmin, float)


def test_cloudflare_sdk_runs_image_classification(server):
    service, base = server
    out = cf_client(base).ai.run(RESNET, account_id="acc", image=list(WEBP))
    assert as_dicts(out) == expected(service, RESNET, WEBP)


def test_cloudflare_sdk_lists_models_across_pages(server):
    service, base = server
    client = cf_client(base)
    listed = sorted(e.name for e in service.catalog if e.listed)
    page = client.ai.models.list(account_id="acc")
    assert [m["name"] for m in page.result] == listed
    assert page.result_info.page == 1
    # auto-pagination, one model per page, stops at the first empty page
    assert [m["name"] for m in client.ai.models.list(account_id="acc", per_page=1)] == listed
    detection = client.ai.models.list(account_id="acc", task="Object Detection")
    assert [m["name"] for m in detection.result] == [DETR]
    price = next(p for p in detection.result[0]["properties"] if p["property_id"] == "price")["value"][0]
    assert price["price"] == float(service.catalog.get(DETR).price)


def test_cloudflare_sdk_reads_model_schemas(server):
    _, base = server
    schema = cf_client(base).ai.models.schema.get(account_id="acc", model=DETR)
    assert schema.input.type == "object" and schema.input.additional_properties is False
    assert schema.output.type == "array" and schema.output.description


def test_cloudflare_sdk_sees_cloudflare_errors(server):
    _, base = server
    with pytest.raises(cloudflare.BadRequestError) as info:
        cf_client(base).ai.run("@cf/nobody/nothing", account_id="acc", image=list(PNG))
    assert info.value.status_code == 400 and info.value.body["errors"][0]["code"] == 5007
    with pytest.raises(cloudflare.BadRequestError) as info:
        cf_client(base).ai.run(DETR, account_id="acc", image=[1, 2, 3])
    assert info.value.body["errors"][0]["code"] == 5006


def test_cloudflare_sdk_authentication_and_capacity(tmp_path):
    service = make_service(tmp_path, api_token="t0ken", max_queue=0)
    with serve(service) as base:
        with pytest.raises(cloudflare.AuthenticationError) as info:
            cf_client(base, "wrong").ai.run(DETR, account_id="acc", image=list(PNG))
        assert info.value.body["errors"][0]["code"] == 10000
        client = cf_client(base, "t0ken")
        assert as_dicts(client.ai.run(DETR, account_id="acc", image=list(PNG))) == expected(service, DETR, PNG)
        with busy_slot(service):
            with pytest.raises(cloudflare.RateLimitError) as info:
                client.ai.run(DETR, account_id="acc", image=list(PNG))
        assert info.value.body["errors"][0]["code"] == 3040


# --- huggingface_hub InferenceClient ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def hf_loopback_only(monkeypatch):
    """conftest's HF_HUB_OFFLINE blocks every request of the client, loopback included. Lift it for these tests,
    with the Hub and the inference router pointed at a closed loopback port so nothing can leave the machine."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "INFERENCE_PROXY_TEMPLATE", "http://127.0.0.1:9/{provider}")


def hf_url(base: str, hf_id: str) -> str:
    return f"{base}/hf-inference/models/{hf_id}"


def test_hf_client_object_detection(server):
    service, base = server
    client = InferenceClient(model=hf_url(base, "facebook/detr-resnet-50"))
    out = client.object_detection(PNG)  # no parameters: the client sends the raw bytes
    assert [o.__dict__ | {"box": o.box.__dict__} for o in out] == expected(service, DETR, PNG)
    low = client.object_detection(PNG, threshold=0.05)  # with parameters: JSON with base64 inputs
    assert [o.__dict__ | {"box": o.box.__dict__} for o in low] == expected(service, DETR, PNG, {"threshold": 0.05})
    assert len(low) > len(out)


def test_hf_client_image_classification(server):
    service, base = server
    client = InferenceClient()
    out = client.image_classification(IMAGES / "image-128x96.webp", model=hf_url(base, "microsoft/resnet-50"))
    assert [o.__dict__ for o in out] == expected(service, RESNET, WEBP)
    top2 = client.image_classification(PNG, model=hf_url(base, VIT), top_k=2, function_to_apply="sigmoid")
    assert [o.__dict__ for o in top2] == expected(service, VIT, PNG, {"top_k": 2, "function_to_apply": "sigmoid"})


def test_hf_client_errors(server):
    _, base = server
    with pytest.raises(HfHubHTTPError) as info:
        InferenceClient(model=hf_url(base, "nobody/nothing")).object_detection(PNG)
    assert info.value.response.status_code == 404 and "nobody/nothing" in str(info.value)
    with pytest.raises(HfHubHTTPError) as info:
        InferenceClient(model=hf_url(base, "microsoft/resnet-50")).image_classification(PNG, function_to_apply="max")
    assert info.value.response.status_code == 400 and "function_to_apply" in str(info.value)


def test_hf_client_loading_model_and_wait_header(tmp_path):
    store = HeldStore(tmp_path)
    service = make_service(tmp_path, store=store, weights="real")
    with serve(service) as base:
        url = hf_url(base, "facebook/detr-resnet-50")
        with pytest.raises(HfHubHTTPError) as info:
            InferenceClient(model=url).object_detection(PNG)
        assert info.value.response.status_code == 503
        assert info.value.response.json()["estimated_time"] > 0
        timer = threading.Timer(1.0, store.release.set)
        timer.start()
        try:
            out = InferenceClient(model=url, headers={"x-wait-for-model": "true"}, timeout=60).object_detection(PNG)
        finally:
            timer.cancel()
        assert [o.__dict__ | {"box": o.box.__dict__} for o in out] == expected(service, DETR, PNG)


def test_hf_client_token(tmp_path):
    service = make_service(tmp_path, api_token="hf_t0ken")
    with serve(service) as base:
        url = hf_url(base, "microsoft/resnet-50")
        with pytest.raises(HfHubHTTPError) as info:
            InferenceClient(model=url, token="hf_wrong").image_classification(PNG)
        assert info.value.response.status_code == 401
        out = InferenceClient(model=url, token="hf_t0ken").image_classification(PNG)
        assert [o.__dict__ for o in out] == expected(service, RESNET, PNG)
