"""Every coded error of runtime/errors.py reached through a real input or state, and rendered on every door:
Cloudflare's envelope and status, Hugging Face's {"error"} and status, the binding's InferenceUpstreamError text,
and a $0 ledger row. (Cloudflare's failure modes that need a fault, 3040/3036/3007/3008, are in test_faults.py.)"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_support import fixture_catalog, ledger_rows, serve
from onnx_const import constant_model
from PIL import Image

import runtime.errors as errors
from runtime.bindings.ai import AiBinding
from runtime.catalog import Catalog
from runtime.metering.backends import open_ledger
from runtime.service import InferenceService
from runtime.settings import EmulatorSettings
from runtime.workers import InferenceUpstreamError

FLAKY = "@cf/test/fails-on-non-square"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, format="PNG")
    return out.getvalue()


def failing_model(folder: Path) -> Path:
    """A classifier whose ONNX graph takes only 8x8 inputs, behind a processor that keeps the aspect ratio: square
    images run, any other fails inside onnxruntime at run time."""
    (folder / "onnx").mkdir(parents=True)
    (folder / "onnx" / "model.onnx").write_bytes(
        constant_model("pixel_values", [1, 3, 8, 8], "logits", np.array([[2.0, 1.0]], dtype=np.float32))
    )
    (folder / "config.json").write_text(json.dumps({"model_type": "tiny-fixed", "id2label": {"0": "a", "1": "b"}}))
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "ViTImageProcessor",
                "do_resize": True,
                "size": {"shortest_edge": 8},
                "do_rescale": True,
                "do_normalize": False,
            }
        )
    )
    return folder


def service_for(tmp_path: Path, **settings) -> InferenceService:
    tables = [{"name": e.name, "path": str(e.path)} for e in fixture_catalog()]
    tables.append(
        {
            "name": FLAKY,
            "path": str(failing_model(tmp_path / "model")),
            "task": "image-classification",
            "price": "0.000001",
            "hf_id": "test/fails-on-non-square",
        }
    )
    return InferenceService(
        Catalog.load(tables), open_ledger(tmp_path / "ledger.sqlite3"), EmulatorSettings(state_dir=tmp_path, **settings)
    )


def test_a_model_failing_at_run_time_is_3043_on_every_door_and_costs_nothing(tmp_path):
    service = service_for(tmp_path)
    binding = AiBinding(service, "w")
    assert asyncio.run(binding.run(FLAKY, {"image": list(png(20, 20))}))[0]["label"] == "a"  # square: runs
    with pytest.raises(InferenceUpstreamError) as info:
        asyncio.run(binding.run(FLAKY, {"image": list(png(40, 20))}))
    assert str(info.value).startswith("3043: AiError: internal error: ")
    with serve(service) as base:
        rest = httpx.post(f"{base}/client/v4/accounts/a/ai/run/{FLAKY}", content=png(40, 20), timeout=60)
        hf = httpx.post(f"{base}/hf-inference/models/test/fails-on-non-square", content=png(40, 20), timeout=60)
    assert rest.status_code == 500 and rest.json()["errors"][0]["code"] == 3043
    assert rest.json()["success"] is False and rest.json()["result"] == {}
    assert hf.status_code == 500 and hf.json()["error"].startswith("internal error: ")
    rows = ledger_rows(service)
    assert [(r["outcome"], r["cost"]) for r in rows] == [
        ("ok", "0.000001"),
        ("error:3043", "0"),
        ("error:3043", "0"),
        ("error:3043", "0"),
    ]


# code -> (how to provoke it over REST, over the HF door), each a (method, path, body, headers) on a fresh service
CASES = {
    "MissingBody": (
        3003,
        400,
        400,
        ("POST", "/client/v4/accounts/a/ai/run/@cf/facebook/detr-resnet-50", b"", {}),
        ("POST", "/hf-inference/models/facebook/detr-resnet-50", b"", {}),
    ),
    "RequestTooLarge": (
        3006,
        413,
        413,
        ("POST", "/client/v4/accounts/a/ai/run/@cf/facebook/detr-resnet-50", b"x" * 5000, {}),
        ("POST", "/hf-inference/models/facebook/detr-resnet-50", b"x" * 5000, {}),
    ),
    "BadInput": (
        5006,
        400,
        400,
        ("POST", "/client/v4/accounts/a/ai/run/@cf/facebook/detr-resnet-50", b"{", {}),
        ("POST", "/hf-inference/models/facebook/detr-resnet-50", b"{", {}),
    ),
    "NoSuchModel": (
        5007,
        400,
        404,
        ("POST", "/client/v4/accounts/a/ai/run/@cf/no/such", b"x", {}),
        ("POST", "/hf-inference/models/no/such", b"x", {}),
    ),
    "NoRoute": (
        7000,
        400,
        404,
        ("GET", "/client/v4/accounts/a/nothing", None, {}),
        ("GET", "/hf-inference/nothing", None, {}),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_coded_error_renders_in_each_doors_format(tmp_path, name):
    code, cf_status, hf_status, rest_req, hf_req = CASES[name]
    assert getattr(errors, name).code == code  # the table is the one in runtime/errors.py
    service = service_for(tmp_path, max_body_bytes=4096)
    with serve(service) as base, httpx.Client(base_url=base, timeout=60) as http:
        rest = http.request(rest_req[0], rest_req[1], content=rest_req[2], headers=rest_req[3])
        hf = http.request(hf_req[0], hf_req[1], content=hf_req[2], headers=hf_req[3])
    assert rest.status_code == cf_status and rest.json()["errors"][0]["code"] == code
    assert hf.status_code == hf_status and isinstance(hf.json()["error"], str)
    assert rest.headers["x-emu-cost-usd"] == hf.headers["x-emu-cost-usd"] == "0"
    rows = ledger_rows(service)
    assert all(r["outcome"] == f"error:{code}" and r["cost"] == "0" for r in rows)
    assert len(rows) == (0 if name == "NoRoute" else 2)  # an inference request, refused or not, leaves one row


def test_every_error_class_is_covered_somewhere():
    """A new error class needs a case here, in test_faults.py or in the files named below."""
    elsewhere = {
        "InferenceTimeout",
        "RequestAborted",
        "OutOfCapacity",
        "BudgetExceeded",  # test_faults.py
        "AuthenticationError",  # test_security.py, test_cloudflare_api.py
        "ModelLoading",
        "ModelUnavailable",  # test_store.py, test_standins.py
        "NotOfferedLocally",  # test_parity.py
        "ImageError",  # test_security.py, test_images.py
        "SchemaMismatch",  # test_run_options.py, test_cloudflare_api.py
        "AudioError",  # test_audio.py, test_speech.py
        "ModelError",
        "EmuError",
    }  # the 3043 test above
    classes = {n for n, c in vars(errors).items() if isinstance(c, type) and issubclass(c, errors.EmuError)}
    assert classes == set(CASES) | elsewhere


# The table every door renders from: Cloudflare's code and REST status, the Hugging Face status and the prefix
# Cloudflare puts before the message.
ERROR_TABLE = {
    "AuthenticationError": (10000, 401, 401, ""),
    "BadInput": (5006, 400, 400, "AiError: Bad input: "),
    "BudgetExceeded": (3036, 429, 429, ""),
    "EmuError": (3043, 500, 500, "AiError: "),
    "ImageError": (5006, 400, 400, "AiError: Bad input: "),
    "InferenceTimeout": (3007, 408, 504, ""),
    "MissingBody": (3003, 400, 400, ""),
    "ModelError": (3043, 500, 500, "AiError: "),
    "ModelLoading": (3040, 503, 503, ""),
    "ModelUnavailable": (5007, 503, 503, ""),
    "NoRoute": (7000, 400, 404, ""),
    "NoSuchModel": (5007, 400, 404, ""),
    "NotOfferedLocally": (5007, 400, 404, ""),
    "OutOfCapacity": (3040, 429, 429, ""),
    "RequestAborted": (3008, 408, 408, ""),
    "RequestTooLarge": (3006, 413, 413, ""),
    "SchemaMismatch": (5006, 400, 400, "Error: "),
}


@pytest.mark.parametrize("name", sorted(ERROR_TABLE))
def test_each_error_class_carries_its_code_statuses_prefix_and_ledger_label(name):
    cls = getattr(errors, name)
    code, status, hf_status, prefix = ERROR_TABLE[name]
    error = cls("the message")
    assert (error.code, error.status, error.hf_status, error.prefix) == (code, status, hf_status, prefix)
    assert error.message == "the message" and str(error) == "the message"
    assert error.cf_message == f"{prefix}the message"
    assert error.outcome == f"error:{code}" and error.metered is False


def test_model_loading_says_when_to_retry():
    assert errors.ModelLoading("warming up").estimated_time == 20.0
    late = errors.ModelLoading("pulling weights", estimated_time=3.5)
    assert late.estimated_time == 3.5 and late.message == "pulling weights"
