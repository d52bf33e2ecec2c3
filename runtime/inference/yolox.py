"""YOLOX detectors (Megvii's anchor-free YOLO) exported to ONNX, in a Hugging Face-style folder.

transformers has no YOLOX, so the folder's JSON files carry its conventions in keys of our own:
`preprocessor_config.json` `letterbox`, `pad_value`, `channel_order`, `do_rescale`/`do_normalize`, `size`;
`config.json` `model_type: "yolox"`, `strides`, `nms_iou_threshold`, `score_threshold`, `decoded`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ModelError
from . import transforms
from .detection import DetectionFamily, detections
from .model import Prepared

DEFAULT_STRIDES = (8, 16, 32)
DEFAULT_NMS_IOU = 0.45
# The family's own default when neither the catalog entry nor the request sets `threshold`. YOLOX's scores are
# objectness x class probability, far below DETR's; 0.1 keeps what the small model actually sees (on the
# COCO cats: cat 0.75, cat 0.71, bed 0.53, couch 0.23, remote 0.10) while dropping its long tail of noise.
DEFAULT_THRESHOLD = 0.1


def grid_and_strides(height: int, width: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per output row: its grid cell (x, y) and its stride; rows run stride by stride, row-major, x fastest."""
    grids, scales = [], []
    for stride in strides:
        h, w = height // stride, width // stride
        ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=-1))
        scales.append(np.full((h * w, 1), stride, dtype=np.float32))
    return np.concatenate(grids), np.concatenate(scales)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best first. Vectorised per kept box."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Per-class NMS in one pass: boxes of different classes are shifted apart so they never overlap."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    offset = float(boxes.max()) + 1.0
    shifted = boxes + (classes.astype(np.float32) * offset)[:, None]
    return nms(shifted, scores, iou_threshold)


class YoloxFamily(DetectionFamily):
    """Letterbox to the input size, BGR raw 0-255 input, grid decoding, objectness x class score, per-class NMS."""

    default_threshold = DEFAULT_THRESHOLD

    @classmethod
    def matches(cls, config: Mapping[str, Any], processor: Mapping[str, Any]) -> bool:
        kind = str(processor.get("image_processor_type", ""))
        return str(config.get("model_type", "")).lower() == "yolox" or kind.startswith("Yolox")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        p, c = self.processor, self.config
        self.images = self.input_name("images")
        shape = self.inputs[self.images].shape
        size = transforms.processor_size(p)
        if "height" in size and "width" in size:
            self.height, self.width = size["height"], size["width"]
        elif len(shape) == 4 and all(isinstance(d, int) for d in shape[2:]):
            self.height, self.width = int(shape[2]), int(shape[3])
        else:
            raise ModelError(f"{self.folder}: YOLOX needs size {{height, width}} in preprocessor_config.json")
        self.letterbox = bool(p.get("letterbox", True))
        self.pad_value = int(p.get("pad_value", 114))
        self.resample = int(p.get("resample", 2))
        self.bgr = str(p.get("channel_order", "bgr")).lower() == "bgr"
        do_rescale, do_normalize = p.get("do_rescale", False), p.get("do_normalize", False)
        self.tables = transforms.lookup_tables(
            p.get("rescale_factor", 1 / 255) if do_rescale else None,
            p.get("image_mean", transforms.IMAGENET_MEAN) if do_normalize else None,
            p.get("image_std", transforms.IMAGENET_STD) if do_normalize else None,
            dtype=self.input_dtype(self.images),
        )
        self.strides = tuple(int(s) for s in c.get("strides", DEFAULT_STRIDES))
        self.iou_threshold = float(c.get("nms_iou_threshold", DEFAULT_NMS_IOU))
        if "score_threshold" in c:
            self.default_threshold = float(c["score_threshold"])
        self.decoded = bool(c.get("decoded", False))  # some exports decode the grid inside the graph
        self.grid, self.stride_col = grid_and_strides(self.height, self.width, self.strides)
        self.output = "output" if "output" in self.outputs else self.outputs[0]

    def pixel_values_for(self, image: Image.Image) -> tuple[np.ndarray, float, float]:
        """The input tensor and the x and y scale factors from original pixels to input pixels."""
        if self.letterbox:
            r = min(self.height / image.height, self.width / image.width)
            w, h = max(1, int(image.width * r)), max(1, int(image.height * r))
            resized = transforms.resize(image, h, w, self.resample)
            canvas = Image.new("RGB", (self.width, self.height), (self.pad_value,) * 3)
            canvas.paste(resized, (0, 0))
            return transforms.to_tensor(canvas, self.tables, bgr=self.bgr), r, r
        resized = transforms.resize(image, self.height, self.width, self.resample)
        return (
            transforms.to_tensor(resized, self.tables, bgr=self.bgr),
            self.width / image.width,
            self.height / image.height,
        )

    def prepare(self, image: Image.Image) -> Prepared:
        pixels, rx, ry = self.pixel_values_for(image)
        return Prepared({self.images: pixels}, image.height, image.width, (rx, ry))

    def finish(self, outputs: dict[str, np.ndarray], prepared: Prepared, params: Mapping[str, Any]) -> list[dict]:
        (rx, ry), width, height = prepared.extra, prepared.width, prepared.height
        raw = outputs[self.output]
        rows = raw.reshape(-1, raw.shape[-1]).astype(np.float32)
        if rows.shape[0] != self.grid.shape[0] and not self.decoded:
            raise ModelError(
                f"{self.folder}: YOLOX output has {rows.shape[0]} rows, the grid of strides "
                f"{list(self.strides)} on {self.height}x{self.width} has {self.grid.shape[0]}"
            )
        return self.postprocess(rows, rx, ry, width, height, params["threshold"])

    def postprocess(
        self, rows: np.ndarray, rx: float, ry: float, width: int, height: int, threshold: float
    ) -> list[dict[str, Any]]:
        class_scores = rows[:, 5:]
        classes = class_scores.argmax(axis=-1)
        scores = rows[:, 4] * class_scores[np.arange(len(classes)), classes]
        keep = scores > threshold
        if not keep.any():
            return []
        rows, scores, classes = rows[keep], scores[keep], classes[keep]
        if self.decoded:
            cx, cy, bw, bh = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
        else:
            grid, stride = self.grid[keep], self.stride_col[keep, 0]
            cx = (rows[:, 0] + grid[:, 0]) * stride
            cy = (rows[:, 1] + grid[:, 1]) * stride
            bw = np.exp(rows[:, 2]) * stride
            bh = np.exp(rows[:, 3]) * stride
        boxes = np.stack([(cx - bw / 2) / rx, (cy - bh / 2) / ry, (cx + bw / 2) / rx, (cy + bh / 2) / ry], axis=-1)
        kept = batched_nms(boxes, scores, classes, self.iou_threshold)
        kept = kept[np.argsort(-scores[kept], kind="stable")]
        boxes = np.clip(boxes[kept], 0.0, np.array([width, height, width, height], dtype=np.float32))
        return detections(scores[kept], [self.label(int(i)) for i in classes[kept]], boxes)
