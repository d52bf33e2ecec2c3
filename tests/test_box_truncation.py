"""Box corners become integers the way transformers' pipeline does it, `int()`: toward zero. Not floor() (which
differs for negative fractional corners), not round() (which differs for any fraction of .5 or more)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from support import FIXTURE_MODELS
from test_yolox import make_folder, png, row

from runtime.inference.detection import detections
from runtime.tasks import load_model


def test_detections_truncate_toward_zero():
    corners = np.array([[-0.5, -1.9999, 2.9999, 3.5], [-7.25, 0.0, 0.75, -0.0001]], dtype=np.float32)
    boxes = [d["box"] for d in detections(np.array([0.9, 0.8]), ["a", "b"], corners)]
    assert boxes == [
        {"xmin": 0, "ymin": -1, "xmax": 2, "ymax": 3},  # floor: -1, -2; round: -2 (or 0), 3, 4
        {"xmin": -7, "ymin": 0, "xmax": 0, "ymax": 0},  # floor: -8, 0, 0, -1; round: -7, 0, 1, 0
    ]
    assert all(isinstance(v, int) for b in boxes for v in b.values())


def test_detr_corners_truncate_toward_zero_including_negative_fractions():
    family = load_model(FIXTURE_MODELS / "detr", task="object-detection").family
    queries = 2
    logits = np.full((queries, len(family.id2label) + 1), -10.0, dtype=np.float32)
    logits[:, 1] = 10.0  # both queries: label 1, score ~1
    # (cx, cy, w, h) relative: on a 37x11 image, query 0 spans x -1.85..5.55 and y 3.85..7.15
    pred = np.array([[0.05, 0.5, 0.2, 0.3], [0.5, 0.5, 1.0, 1.0]], dtype=np.float32)
    got = family.postprocess(logits, pred, height=11, width=37, threshold=0.5)
    x0, y0, x1, y1 = (0.05 - 0.1) * 37, (0.5 - 0.15) * 11, (0.05 + 0.1) * 37, (0.5 + 0.15) * 11
    assert got[0]["box"] == {"xmin": int(x0), "ymin": int(y0), "xmax": int(x1), "ymax": int(y1)}
    assert got[0]["box"] == {"xmin": -1, "ymin": 3, "xmax": 5, "ymax": 7}
    assert (math.floor(x0), round(y0), round(x1)) == (-2, 4, 6)  # what the wrong rules would have given
    assert got[1]["box"] == {"xmin": 0, "ymin": 0, "xmax": 37, "ymax": 11}


def test_yolox_corners_truncate_toward_zero(tmp_path: Path):
    rows = np.zeros((21, 85), np.float32)
    # stride 8, cell (1, 1): centre (1.2875 + 1) * 8 = 18.3, size e^ln(1.1) * 8 = 8.8 -> 13.9..22.7 on both axes
    row(rows, 5, (1.2875, 1.2875, math.log(1.1), math.log(1.1)), 1.0, {3: 0.9})
    model = load_model(make_folder(tmp_path, rows), task="object-detection")
    [only] = model.predict(png(32, 32), model.family.check_params({}))
    lo, hi = 18.3 - 4.4, 18.3 + 4.4
    assert (
        only["box"]
        == {"xmin": 13, "ymin": 13, "xmax": 22, "ymax": 22}
        == {k: int(v) for k, v in zip(("xmin", "ymin", "xmax", "ymax"), (lo, lo, hi, hi))}
    )
    assert (round(lo), round(hi)) == (14, 23)  # what round() would have given


def test_detr_softmax_is_per_query_and_stable_for_extreme_logits():
    from runtime.inference.detection import softmax

    logits = np.array([[-1000.0, -1001.0, -1002.0], [0.0, 1.0, 2.0], [800.0, 799.0, 700.0]], np.float32)
    probs = softmax(logits)
    assert np.isfinite(probs).all()
    expected = np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum()
    assert np.allclose(probs[0], expected, atol=1e-6) and np.allclose(probs[1], expected[::-1], atol=1e-6)
    assert np.allclose(probs.sum(axis=-1), 1.0, atol=1e-6)
