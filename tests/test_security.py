"""Safe defaults and hostile images: a token guards everything but liveness; extreme aspect ratios are bad input
on every door (never a 500, never a memory blow-up)."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from api_support import DETR, RESNET, ledger_rows, make_service, serve
from PIL import Image

from runtime.bindings.ai import AiBinding
from runtime.workers import InferenceUpstreamError


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 40, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1)])
@pytest.mark.parametrize("model", [DETR, RESNET])
def test_extreme_aspect_ratios_are_bad_input_on_every_door(tmp_path, size, model):
    image = png(*size)
    service = make_service(tmp_path)
    with pytest.raises(InferenceUpstreamError) as info:
        asyncio.run(AiBinding(service, "w").run(model, {"image": list(image)}))
    assert str(info.value).startswith("5006: AiError: Bad input: the image's aspect ratio")
    hf_id = service.catalog.get(model).hf_id
    with serve(service) as base:
        rest = httpx.post(f"{base}/client/v4/accounts/a/ai/run/{model}", content=image, timeout=60)
        hf = httpx.post(f"{base}/hf-inference/models/{hf_id}", content=image, timeout=60)
    assert rest.status_code == 400 and rest.json()["errors"][0]["code"] == 5006
    assert hf.status_code == 400 and "aspect ratio" in hf.json()["error"]
    assert [r["outcome"] for r in ledger_rows(service)] == ["error:5006"] * 3


def test_with_a_token_nothing_but_liveness_is_open(tmp_path):
    service = make_service(tmp_path, api_token="s3cret-token")
    guarded = [
        "/cdn-cgi/emu/costs",
        "/cdn-cgi/emu/requests",
        "/cdn-cgi/emu/dashboard",
        "/cdn-cgi/emu/ready",
        "/cdn-cgi/emu/metrics",
        "/cdn-cgi/emu/faults",
        "/cdn-cgi/emu/openapi.json",
        "/client/v4/accounts/a/ai/models/search",
    ]
    with serve(service) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/cdn-cgi/emu/health").status_code == 200
        for path in guarded:
            assert http.get(path).status_code == 401, path
            assert http.get(path, headers={"authorization": "Bearer wrong"}).status_code == 401, path
            assert http.get(path, headers={"authorization": "Bearer s3cret-token"}).status_code == 200, path
        # the dashboard page a browser opens may carry the token in its query (the log never shows queries)
        assert http.get("/cdn-cgi/emu/dashboard?token=s3cret-token").status_code == 200
        assert http.get("/cdn-cgi/emu/costs?token=s3cret-token").status_code == 200
        # ... but the inference doors take it only as a bearer header
        run = http.post(f"/client/v4/accounts/a/ai/run/{DETR}?token=s3cret-token", content=png(8, 8))
        assert run.status_code == 401
