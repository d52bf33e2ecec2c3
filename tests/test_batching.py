"""Dynamic batching (runtime/inference/batching.py): requests for one model that wait for the slot together run as
one batch, each gets exactly the answer it would get alone, a lone request never waits, and a model batches only
where its catalog entry's `max_batch` says so and its graph takes a batch."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import numpy as np
import pytest
from onnx_const import constant_model
from PIL import Image
from support import DETR, FIXTURE_MODELS, FIXTURES, RESNET, VIT

from runtime.catalog import Catalog, CatalogError
from runtime.metering.backends import open_ledger
from runtime.service import InferenceService
from runtime.settings import EmulatorSettings

IMAGES = [p.read_bytes() for p in sorted((FIXTURES / "images").iterdir()) if p.suffix in (".png", ".jpg", ".webp")]


def service_with(tmp_path: Path, max_batch: int, extra: list[dict] | None = None) -> InferenceService:
    catalog = Catalog.load(
        [
            {"name": DETR, "path": str(FIXTURE_MODELS / "detr"), "max_batch": max_batch},
            {"name": RESNET, "path": str(FIXTURE_MODELS / "resnet"), "max_batch": max_batch},
            {"name": VIT, "path": str(FIXTURE_MODELS / "vit"), "max_batch": max_batch},
            *(extra or []),
        ]
    )
    settings = EmulatorSettings(state_dir=tmp_path, max_concurrent_inferences=1, max_queue=16)
    return InferenceService(catalog, open_ledger(tmp_path / "ledger.sqlite3"), settings)


def png(size: tuple[int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def hold_first_run(service: InferenceService, model: str) -> threading.Event:
    """The model's first graph run waits for the returned gate: the slot stays busy while others queue."""
    service.pool.get_sync(service.catalog.get(model))
    family = service.pool._loaded.get(model).family
    real_run, gate, first = family.run, threading.Event(), [True]

    def run(feeds):
        if first[0]:
            first[0] = False
            gate.wait(10)
        return real_run(feeds)

    family.run = run  # scaffolding around the real run
    return gate


def run_all(service: InferenceService, model: str, images: list[bytes], gate: threading.Event) -> list:
    async def scenario():
        tasks = [asyncio.create_task(service.run(model, images[0]))]
        await asyncio.sleep(0.3)  # the first holds the slot
        tasks += [asyncio.create_task(service.run(model, data)) for data in images[1:]]
        await asyncio.sleep(0.5)  # the rest are prepared and waiting
        gate.set()
        return await asyncio.gather(*tasks)

    return [o.result for o in asyncio.run(scenario())]


@pytest.mark.parametrize("model", [RESNET, VIT])
def test_waiting_requests_run_as_one_batch_with_the_answers_they_get_alone(tmp_path, model):
    images = [png((64 + 8 * i, 48), i) for i in range(5)] if model == RESNET else IMAGES[:5]
    alone = service_with(tmp_path / "alone", 1)
    expected = [alone.run_sync(model, data).result for data in images]
    assert alone.pool._loaded.get(model).batcher is None
    batched = service_with(tmp_path / "batched", 4)
    gate = hold_first_run(batched, model)
    got = run_all(batched, model, images, gate)
    batcher = batched.pool._loaded.get(model).batcher
    assert batcher is not None and batcher.batches == {1: 1, 4: 1}  # the lone first, then the four that waited
    for want, have in zip(expected, got):
        assert [r["label"] for r in have] == [r["label"] for r in want]
        assert np.allclose([r["score"] for r in have], [r["score"] for r in want], atol=1e-5)
    outcomes = [row["outcome"] for row in batched.ledger.latest()]
    assert outcomes == ["ok"] * 5  # one row per request


def test_only_equal_shapes_share_a_batch_and_the_batch_is_bounded(tmp_path):
    # DETR's input follows the image's size: images of two sizes make two batches, and max_batch bounds each
    service = service_with(tmp_path, 2)
    gate = hold_first_run(service, DETR)
    images = [png((40, 30), 0)] + [png((40, 30), i) for i in range(1, 4)] + [png((30, 40), i) for i in range(4, 6)]
    alone = service_with(tmp_path / "alone", 1)
    expected = [alone.run_sync(DETR, data).result for data in images]
    got = run_all(service, DETR, images, gate)
    assert service.pool._loaded.get(DETR).batcher.batches == {
        1: 2,
        2: 2,
    }  # first alone; 2 + 1 of one size; 2 of the other
    for want, have in zip(expected, got):
        assert [(r["label"], r["box"]) for r in have] == [(r["label"], r["box"]) for r in want]


def test_a_lone_request_never_waits_and_a_fixed_batch_graph_is_not_batched(tmp_path):
    folder = tmp_path / "fixed"
    (folder / "onnx").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "vit", "id2label": {"0": "a", "1": "b"}}')
    (folder / "preprocessor_config.json").write_text(
        '{"image_processor_type": "ViTImageProcessor", "size": {"height": 32, "width": 32}}'
    )
    logits = np.array([[0.0, 1.0]], np.float32)
    (folder / "onnx" / "model.onnx").write_bytes(constant_model("pixel_values", [1, 3, 32, 32], "logits", logits))
    extra = [
        {"name": "@cf/test/fixed", "path": str(folder), "task": "image-classification", "price": "0", "max_batch": 8}
    ]
    service = service_with(tmp_path, 8, extra)
    assert service.run_sync("@cf/test/fixed", IMAGES[0]).result[0]["label"] == "b"
    assert service.pool._loaded.get("@cf/test/fixed").batcher is None  # [1, 3, 32, 32]: no batch dimension
    assert service.run_sync(RESNET, IMAGES[0]).result
    assert service.pool._loaded.get(RESNET).batcher.batches == {1: 1}


@pytest.mark.parametrize("value", [0, 65, "4", True, 2.5])
def test_max_batch_must_be_a_small_whole_number(value):
    with pytest.raises(CatalogError, match="'max_batch' must be a whole number from 1 to 64"):
        Catalog.load([{"name": RESNET, "max_batch": value}])
