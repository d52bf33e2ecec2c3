"""The DETR family: transformers' DetrImageProcessor + ObjectDetectionPipeline, to the pixel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ModelError
from . import transforms
from .detection import DetectionFamily, detections, softmax
from .model import Prepared


class DetrFamily(DetectionFamily):
    """DETR-style set prediction: softmax over classes with a trailing "no object" class, (cx, cy, w, h) boxes."""

    model_types = ("detr", "yolos")

    @classmethod
    def matches(cls, config: Mapping[str, Any], processor: Mapping[str, Any]) -> bool:
        kind = str(processor.get("image_processor_type", ""))
        return config.get("model_type") in cls.model_types or kind.startswith(("DetrImageProcessor", "Yolos"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        p = self.processor
        size = transforms.processor_size(p) or {"shortest_edge": 800, "longest_edge": 1333}
        if "max_size" in p and "longest_edge" not in size:
            size["longest_edge"] = int(p["max_size"])
        self.size = size
        self.do_resize = p.get("do_resize", True)
        self.resample = int(p.get("resample", 2))
        do_rescale, do_normalize = p.get("do_rescale", True), p.get("do_normalize", True)
        self.tables = transforms.lookup_tables(
            p.get("rescale_factor", 1 / 255) if do_rescale else None,
            p.get("image_mean", transforms.IMAGENET_MEAN) if do_normalize else None,
            p.get("image_std", transforms.IMAGENET_STD) if do_normalize else None,
        )
        pad = p.get("pad_size") if p.get("do_pad", True) else None
        self.pad_size = (int(pad["height"]), int(pad["width"])) if pad else None
        self.pixel_values = self.input_name("pixel_values")
        self.tables = self.tables.astype(self.input_dtype(self.pixel_values))
        self.has_mask = "pixel_mask" in self.inputs
        self._masks: dict[tuple[int, int], np.ndarray] = {}
        for name in ("logits", "pred_boxes"):
            if name not in self.outputs:
                raise ModelError(f"{self.folder}: DETR ONNX graph has no output {name!r} (has {self.outputs})")

    def _full_mask(self, height: int, width: int) -> np.ndarray:
        """An all-ones pixel_mask, built once per input size (read-only: onnxruntime only reads it).

        Kept on the instance (not an lru_cache on the method, which would keep every model alive)."""
        mask = self._masks.get((height, width))
        if mask is None:
            mask = np.ones((1, height, width), dtype=np.int64)
            mask.flags.writeable = False
            if len(self._masks) >= 8:
                self._masks.pop(next(iter(self._masks)))
            self._masks[(height, width)] = mask
        return mask

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        s = self.size
        if "shortest_edge" in s:
            return transforms.size_with_aspect_ratio(height, width, s["shortest_edge"], s.get("longest_edge"))
        if "height" in s and "width" in s:
            return s["height"], s["width"]
        if "max_height" in s and "max_width" in s:
            scale = min(s["max_height"] / height, s["max_width"] / width)
            return int(height * scale), int(width * scale)
        raise ModelError(f"{self.folder}: unsupported size setting {s}")

    def pixel_values_for(self, image: Image.Image) -> np.ndarray:
        """The `pixel_values` DetrImageProcessor makes for one image (also used by the fidelity tests)."""
        if self.do_resize:
            height, width = self.output_size(image.height, image.width)
            image = transforms.resize(image, height, width, self.resample)
        return transforms.to_tensor(image, self.tables)

    def feeds_for(self, image: Image.Image) -> dict[str, np.ndarray]:
        """The model's inputs for one image: `pixel_values`, padded to `pad_size` when set (with `do_pad`), and
        the matching `pixel_mask` when the graph takes one (as DetrImageProcessor returns them)."""
        pixels = self.pixel_values_for(image)
        _, _, h, w = pixels.shape
        mask = self._full_mask(h, w)
        if self.pad_size and (self.pad_size[0] > h or self.pad_size[1] > w):
            padded = np.zeros((1, 3, max(h, self.pad_size[0]), max(w, self.pad_size[1])), dtype=pixels.dtype)
            padded[:, :, :h, :w] = pixels
            mask = np.zeros((1,) + padded.shape[2:], dtype=np.int64)
            mask[:, :h, :w] = 1
            pixels = padded
        feeds = {self.pixel_values: pixels}
        if self.has_mask:
            feeds["pixel_mask"] = mask
        return feeds

    def prepare(self, image: Image.Image) -> Prepared:
        return Prepared(self.feeds_for(image), image.height, image.width)

    def finish(self, outputs: dict[str, np.ndarray], prepared: Prepared, params: Mapping[str, Any]) -> list[dict]:
        logits, boxes = outputs["logits"][0], outputs["pred_boxes"][0]
        return self.postprocess(logits, boxes, prepared.height, prepared.width, params["threshold"])

    def postprocess(
        self, logits: np.ndarray, pred_boxes: np.ndarray, height: int, width: int, threshold: float
    ) -> list[dict[str, Any]]:
        probs = softmax(logits.astype(np.float32))[:, :-1]
        labels = probs.argmax(axis=-1)
        scores = probs[np.arange(len(labels)), labels]
        cx, cy, bw, bh = pred_boxes.astype(np.float32).T
        corners = np.stack([cx - 0.5 * bw, cy - 0.5 * bh, cx + 0.5 * bw, cy + 0.5 * bh], axis=-1)
        corners = corners * np.array([width, height, width, height], dtype=np.float32)
        keep = scores > threshold
        return detections(scores[keep], [self.label(int(i)) for i in labels[keep]], corners[keep])
