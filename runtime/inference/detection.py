"""What the object-detection families (DETR in detr.py, YOLOX in yolox.py) share: parameters and the output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .model import Family, Param


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def detections(scores: np.ndarray, labels: list[str], boxes: np.ndarray) -> list[dict[str, Any]]:
    """Workers AI's output: boxes truncated toward zero to integers, as the pipeline's `int()` does."""
    return [
        {
            "score": float(s),
            "label": label,
            "box": {"xmin": int(b[0]), "ymin": int(b[1]), "xmax": int(b[2]), "ymax": int(b[3])},
        }
        for s, label, b in zip(scores, labels, boxes)
    ]


class DetectionFamily(Family):
    params = {"threshold": Param("number", "Only detections scoring above this are returned", 0.0, 1.0)}
    default_threshold = 0.5

    def check_params(self, params: Mapping[str, Any], schema: str | None = None) -> dict[str, Any]:
        checked = super().check_params(params, schema)
        checked.setdefault("threshold", self.default_threshold)
        return checked
