"""Cloudflare parity for real Worker code: today's catalog names, honest answers for Workers AI models the
emulator does not run, the tasks/authors endpoints, the Hugging Face health/info routes, and the binding's
returnRawResponse / lastRequestId."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from api_support import DETR, PNG, ledger_rows, make_service, serve
from cloudflare import Cloudflare
from huggingface_hub import InferenceClient, constants

from runtime.bindings.ai import AiBinding
from runtime.workers import InferenceUpstreamError, Response

OMNI = "@cf/facebook/omni-detr-resnet-50"
LLAMA = "@cf/meta/llama-3.1-8b-instruct"


def test_the_omni_name_is_an_alias_of_detr(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")
    via_alias = asyncio.run(binding.run(OMNI, {"image": list(PNG)}))
    direct = asyncio.run(binding.run(DETR, {"image": list(PNG)}))
    assert via_alias == direct
    rows = ledger_rows(service)
    assert [r["model"] for r in rows] == [DETR, DETR] and rows[0]["cost"] == rows[1]["cost"] != "0"
    service.close()


def test_a_real_workers_ai_model_not_run_here_is_named_honestly_on_every_door(tmp_path):
    service = make_service(tmp_path)
    with pytest.raises(InferenceUpstreamError) as info:
        asyncio.run(AiBinding(service, "w").run(LLAMA, {"prompt": "hi"}))
    text = str(info.value)
    assert text.startswith("5007: ") and "exists on Workers AI (Text Generation)" in text
    assert "No such model" not in text and DETR in text  # says what does run here
    with serve(service) as base:
        rest = httpx.post(f"{base}/client/v4/accounts/a/ai/run/{LLAMA}", json={"prompt": "hi"})
        unknown = httpx.post(f"{base}/client/v4/accounts/a/ai/run/@cf/nobody/nothing", json={"prompt": "hi"})
        long = httpx.post(f"{base}/client/v4/accounts/a/ai/run/@cf/x/{'y' * 5000}", content=PNG)
    assert rest.status_code == 400 and "exists on Workers AI" in rest.json()["errors"][0]["message"]
    assert unknown.json()["errors"] == [{"code": 5007, "message": "No such model @cf/nobody/nothing or task"}]
    message = long.json()["errors"][0]["message"]
    assert long.status_code == 400 and len(message) < 300 and "5006 characters" in message


def test_tasks_authors_and_search_filters_through_the_official_sdk(tmp_path):
    service = make_service(tmp_path)
    with serve(service) as base:
        client = Cloudflare(api_token="x", base_url=f"{base}/client/v4", max_retries=0)
        tasks = list(client.ai.tasks.list(account_id="a"))
        authors = list(client.ai.authors.list(account_id="a"))
        names = [m["name"] for m in client.ai.models.list(account_id="a")]
        hidden = [m["name"] for m in client.ai.models.list(account_id="a", hide_experimental=True)]
        other_source = list(client.ai.models.list(account_id="a", source=2))
    assert sorted(t["name"] for t in tasks) == [
        "Automatic Speech Recognition",
        "Image Classification",
        "Object Detection",
    ]
    assert all(set(t) == {"id", "name", "description"} for t in tasks)
    assert sorted(a["name"] for a in authors) == ["facebook", "microsoft", "openai"]
    assert DETR in names and hidden == names  # no catalog model is experimental
    assert other_source == []


def test_hugging_face_health_info_and_request_id(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    service = make_service(tmp_path)
    with serve(service) as base:
        url = f"{base}/hf-inference/models/facebook/detr-resnet-50"
        client = InferenceClient(model=url, provider="hf-inference")
        assert client.health_check() is True
        info = client.get_endpoint_info()
        assert (
            InferenceClient(model=f"{base}/hf-inference/models/nobody/nothing", provider="hf-inference").health_check()
            is False
        )
        answer = httpx.post(url, content=PNG)
        error = httpx.post(f"{base}/hf-inference/models/nobody/nothing", content=PNG)
    assert info["model_id"] == "facebook/detr-resnet-50" and info["pipeline_tag"] == "object-detection"
    assert answer.headers["x-request-id"] == answer.headers["x-emu-request-id"]
    assert error.status_code == 404 and error.headers["x-request-id"]


def test_return_raw_response_and_last_request_id(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")

    async def scenario():
        plain = await binding.run(DETR, {"image": list(PNG)})
        first_id = binding.lastRequestId
        raw = await binding.run(DETR, {"image": list(PNG)}, {"returnRawResponse": True})
        return plain, first_id, raw, await raw.json()

    plain, first_id, raw, raw_json = asyncio.run(scenario())
    assert isinstance(raw, Response) and raw.status == 200 and raw_json == plain
    rows = ledger_rows(service)
    assert first_id == rows[0]["request_id"] and binding.lastRequestId == rows[1]["request_id"]
    service.close()
