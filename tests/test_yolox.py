"""The YOLOX family: letterbox input, grid decoding, scores, per-class NMS and the Workers AI schema.

Post-processing is driven through a real onnxruntime session of a constant-output graph, so the rows are known;
the real YOLOX-Nano on the COCO cats is in test_real_models.py.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from onnx_const import constant_model
from PIL import Image

from runtime.errors import BadInput
from runtime.inference.yolox import YoloxFamily, batched_nms, grid_and_strides, nms
from runtime.tasks import load_model

SIZE = 32  # input 32x32 -> grids 4x4 (stride 8), 2x2 (16), 1x1 (32) = 21 rows
LABELS = {str(i): f"class{i}" for i in range(80)}


def make_folder(tmp_path: Path, rows: np.ndarray, config: dict | None = None, processor: dict | None = None) -> Path:
    folder = tmp_path / "yolox"
    (folder / "onnx").mkdir(parents=True)
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "yolox",
                "id2label": LABELS,
                "strides": [8, 16, 32],
                "nms_iou_threshold": 0.45,
                **(config or {}),
            }
        )
    )
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "YoloxImageProcessor",
                "size": {"height": SIZE, "width": SIZE},
                "letterbox": True,
                "pad_value": 114,
                "channel_order": "bgr",
                "do_rescale": False,
                "do_normalize": False,
                "resample": 2,
                **(processor or {}),
            }
        )
    )
    (folder / "onnx" / "model.onnx").write_bytes(constant_model("images", [1, 3, SIZE, SIZE], "output", rows[None]))
    return folder


def row(
    index_rows: np.ndarray,
    i: int,
    raw_box: tuple[float, float, float, float],
    objectness: float,
    scores: dict[int, float],
) -> None:
    index_rows[i, :4] = raw_box
    index_rows[i, 4] = objectness
    for cls, s in scores.items():
        index_rows[i, 5 + cls] = s


def png(width: int, height: int, color: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def brute_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union

    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if all(overlap(boxes[i], boxes[k]) <= iou for k in kept):
            kept.append(i)
    return kept


def test_grid_runs_stride_by_stride_row_major() -> None:
    grid, strides = grid_and_strides(32, 32, (8, 16, 32))
    assert grid.shape == (21, 2) and strides.shape == (21, 1)
    assert grid[:5].tolist() == [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1]]  # x fastest
    assert grid[16:20].tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    assert strides[:, 0].tolist() == [8] * 16 + [16] * 4 + [32]


def test_nms_matches_a_brute_force_reference() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        xy = rng.uniform(0, 100, (40, 2))
        wh = rng.uniform(5, 40, (40, 2))
        boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
        scores = rng.uniform(0, 1, 40).astype(np.float32)
        assert nms(boxes, scores, 0.45).tolist() == brute_nms(boxes, scores, 0.45)


def test_nms_is_per_class() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    kept = batched_nms(boxes, scores, np.array([1, 1, 2]), 0.45)
    assert sorted(kept.tolist()) == [0, 2]  # the same-class duplicate goes, the other class stays


def test_letterbox_input_is_bgr_raw_values_top_left_on_grey(tmp_path: Path) -> None:
    model = load_model(make_folder(tmp_path, np.zeros((21, 85), np.float32)), task="object-detection")
    assert isinstance(model.family, YoloxFamily)
    tensor, rx, ry = model.family.pixel_values_for(Image.new("RGB", (64, 32), (10, 20, 30)))
    assert tensor.shape == (1, 3, SIZE, SIZE) and tensor.dtype == np.float32
    assert rx == ry == 0.5  # r = min(32/32, 32/64)
    assert tensor[0, :, :16, :].reshape(3, -1).tolist() == [[30.0] * 512, [20.0] * 512, [10.0] * 512]
    assert np.all(tensor[0, :, 16:, :] == 114.0)


def test_decoding_scores_nms_threshold_and_schema(tmp_path: Path) -> None:
    rows = np.zeros((21, 85), np.float32)
    log2 = math.log(2.0)
    # stride 8, cell (x=1, y=2): centre ((0.5+1)*8, (0.5+2)*8) = (12, 20), size exp(log 2)*8 = 16
    row(rows, 2 * 4 + 1, (0.5, 0.5, log2, log2), 0.9, {15: 0.8, 3: 0.5})  # cat 0.72
    row(rows, 2 * 4 + 2, (-0.4, 0.5, log2, log2), 0.9, {15: 0.7})  # cat 0.63, IoU with the first > 0.45
    row(rows, 16 + 3, (0.0, 0.0, 0.0, 0.0), 0.8, {59: 0.5})  # stride 16, cell (1, 1): centre 16, size 16: 0.40
    row(rows, 0, (0.5, 0.5, log2, log2), 0.5, {2: 0.1})  # 0.05: below the default threshold
    model = load_model(make_folder(tmp_path, rows), task="object-detection")
    params = model.family.check_params({})
    assert params["threshold"] == pytest.approx(0.1)  # the family's default
    result = model.predict(png(64, 64), params)
    r = 0.5
    assert [d["label"] for d in result] == ["class15", "class59"]
    assert result[0]["score"] == pytest.approx(0.72, abs=1e-6)
    assert result[0]["box"] == {"xmin": int(4 / r), "ymin": int(12 / r), "xmax": int(20 / r), "ymax": int(28 / r)}
    assert result[1]["score"] == pytest.approx(0.40, abs=1e-6)
    assert result[1]["box"] == {"xmin": int(8 / r), "ymin": int(8 / r), "xmax": int(24 / r), "ymax": int(24 / r)}
    assert all(isinstance(v, int) for d in result for v in d["box"].values())
    assert [d["score"] for d in result] == sorted((d["score"] for d in result), reverse=True)

    low = model.predict(png(64, 64), model.family.check_params({"threshold": 0.01}))
    assert [d["label"] for d in low] == ["class15", "class59", "class2"]
    assert model.predict(png(64, 64), model.family.check_params({"threshold": 0.5})) == result[:1]
    with pytest.raises(BadInput):
        model.family.check_params({"threshold": 2})


def test_boxes_are_clipped_to_the_image(tmp_path: Path) -> None:
    rows = np.zeros((21, 85), np.float32)
    row(rows, 20, (0.5, 0.5, math.log(2.0), math.log(2.0)), 1.0, {0: 0.9})  # stride 32: 64 px box centred at 16
    model = load_model(make_folder(tmp_path, rows), task="object-detection")
    [only] = model.predict(png(32, 32), model.family.check_params({}))
    assert only["box"] == {"xmin": 0, "ymin": 0, "xmax": 32, "ymax": 32}


def test_score_threshold_from_config_and_mismatched_grid(tmp_path: Path) -> None:
    rows = np.zeros((21, 85), np.float32)
    model = load_model(make_folder(tmp_path, rows, config={"score_threshold": 0.3}), task="object-detection")
    assert model.family.check_params({})["threshold"] == pytest.approx(0.3)
    assert model.predict(png(20, 20), model.family.check_params({})) == []

    wrong = load_model(make_folder(tmp_path / "w", rows, config={"strides": [8, 16]}), task="object-detection")
    with pytest.raises(Exception, match="rows"):
        wrong.predict(png(20, 20), wrong.family.check_params({}))


def brute_nms_any(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """The definition, in float64, for any boxes: degenerate ones have no area; ties keep the earlier index."""

    def area(a: np.ndarray) -> float:
        return max(0.0, float(a[2]) - float(a[0])) * max(0.0, float(a[3]) - float(a[1]))

    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        w = max(0.0, min(float(a[2]), float(b[2])) - max(float(a[0]), float(b[0])))
        h = max(0.0, min(float(a[3]), float(b[3])) - max(float(a[1]), float(b[1])))
        union = area(a) + area(b) - w * h
        return w * h / union if union > 0 else 0.0

    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda k: (-scores[k], k)):
        if all(overlap(boxes[i], boxes[k]) <= iou for k in kept):
            kept.append(i)
    return kept


def test_nms_on_sub_pixel_and_degenerate_boxes_matches_the_definition() -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        xy = rng.uniform(0, 3, (30, 2))
        wh = rng.uniform(0, 1.5, (30, 2))
        wh[rng.uniform(size=(30, 2)) < 0.15] = 0.0  # some boxes with no width or no height
        boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
        scores = rng.uniform(0, 1, 30).astype(np.float32)
        kept = nms(boxes, scores, 0.3)
        assert kept.dtype == np.int64
        assert kept.tolist() == brute_nms_any(boxes, scores, 0.3)


def test_nms_ties_keep_the_earlier_candidate() -> None:
    # 64 pairs of identical boxes with one score for all: which of each pair survives is decided by index alone.
    base = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(64)], dtype=np.float32)
    boxes = np.concatenate([base, base])[np.random.default_rng(3).permutation(128)]
    scores = np.full(128, 0.5, dtype=np.float32)
    assert nms(boxes, scores, 0.45).tolist() == brute_nms_any(boxes, scores, 0.45)


def test_batched_nms_equals_nms_class_by_class() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        xy = rng.uniform(0, 60, (50, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(30, 40, (50, 2))], axis=1).astype(np.float32)  # up to ~100
        boxes[0] = [0, 0, boxes.max(), boxes.max()]  # one box spans the whole range
        scores = rng.uniform(0, 1, 50).astype(np.float32)
        classes = rng.integers(0, 3, 50)
        expected = sorted(
            int(np.flatnonzero(classes == c)[k])
            for c in range(3)
            for k in brute_nms_any(boxes[classes == c], scores[classes == c], 0.45)
        )
        assert sorted(batched_nms(boxes, scores, classes, 0.45).tolist()) == expected


def test_batched_nms_of_nothing_is_an_empty_index() -> None:
    kept = batched_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), 0.45)
    assert kept.dtype == np.int64 and kept.size == 0
    assert np.zeros((0, 4))[kept].shape == (0, 4)
