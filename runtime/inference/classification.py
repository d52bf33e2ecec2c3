"""Image classification family: the image processor settings of the folder + ImageClassificationPipeline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ModelError
from . import transforms
from .model import Family, Param, Prepared

FUNCTIONS = ("softmax", "sigmoid", "none")


def apply_function(name: str, logits: np.ndarray) -> np.ndarray:
    if name == "softmax":
        e = np.exp(logits - logits.max())
        return e / e.sum()
    if name == "sigmoid":
        with np.errstate(over="ignore"):  # exp(1000) is inf and 1 / inf is the right 0.0, as in the pipeline
            return 1.0 / (1.0 + np.exp(-logits))
    return logits


def read_labels(folder: Path, config: Mapping[str, Any]) -> dict[int, str]:
    """Labels for a folder whose config.json has no id2label: `labels_file` (default labels.txt, then labels.json).

    A .txt file has one label per line (line n is class n); a .json file holds a list or an {index: label} object.
    """
    names = [str(config["labels_file"])] if config.get("labels_file") else ["labels.txt", "labels.json"]
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        try:
            if path.suffix == ".json":
                data = json.loads(path.read_text(encoding="utf-8"))
                items = enumerate(data) if isinstance(data, list) else dict(data).items()
                return {int(k): str(v) for k, v in items}
            lines = path.read_text(encoding="utf-8").rstrip().splitlines()
            return {i: line.strip() for i, line in enumerate(lines)}
        except (OSError, ValueError, TypeError) as e:
            raise ModelError(f"cannot read labels from {path}: {e}") from None
    if config.get("labels_file"):
        raise ModelError(f"labels_file {names[0]!r} named in config.json is not in {folder}")
    return {}


# What transformers' image processor classes assume for keys a preprocessor_config.json leaves out:
# (mean, std, resample, crop_pct). transformers always writes these keys when it saves a config, so this matters
# only for hand-written folders. Processors not listed fall back to ImageNet's mean/std and bilinear resampling.
PROCESSOR_DEFAULTS: dict[str, tuple[tuple[float, ...], tuple[float, ...], int, float | None]] = {
    "ViTImageProcessor": (transforms.STANDARD_MEAN, transforms.STANDARD_STD, 2, None),
    "ConvNextImageProcessor": (transforms.STANDARD_MEAN, transforms.STANDARD_STD, 3, 224 / 256),
    "BitImageProcessor": (transforms.CLIP_MEAN, transforms.CLIP_STD, 3, None),
    "MobileNetV2ImageProcessor": (transforms.STANDARD_MEAN, transforms.STANDARD_STD, 2, None),
    "BeitImageProcessor": (transforms.STANDARD_MEAN, transforms.STANDARD_STD, 3, None),
    "DeiTImageProcessor": (transforms.STANDARD_MEAN, transforms.STANDARD_STD, 3, None),
    "EfficientNetImageProcessor": (transforms.STANDARD_MEAN, transforms.STANDARD_STD, 3, None),
}
FALLBACK_DEFAULTS = (transforms.IMAGENET_MEAN, transforms.IMAGENET_STD, 2, None)


class ClassifierFamily(Family):
    """Any single-image classifier: resize (+ crop), rescale, normalise, logits -> sorted top-k labels.

    Beyond transformers' keys, `preprocessor_config.json` may say `channel_order: "bgr"`, and `config.json`
    `output_is_probability: true` (the graph already ends in a softmax, so none is applied by default).
    """

    params = {
        "top_k": Param("integer", "How many of the best labels to return", minimum=1),
        "function_to_apply": Param("string", "How the model's logits become scores", choices=FUNCTIONS),
    }
    fallback = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        p = self.processor
        self.kind = str(p.get("image_processor_type", "")).removesuffix("Fast").removesuffix("Pil")
        self.size = transforms.processor_size(p) or self._size_from_graph()
        self.crop = transforms.processor_size(p, "crop_size") if p.get("do_center_crop") else {}
        mean, std, resample, crop_pct = PROCESSOR_DEFAULTS.get(self.kind, FALLBACK_DEFAULTS)
        self.crop_pct = p["crop_pct"] if p.get("crop_pct") is not None else crop_pct
        self.do_resize = p.get("do_resize", True)
        self.resample = int(p.get("resample", resample))
        do_rescale, do_normalize = p.get("do_rescale", True), p.get("do_normalize", True)
        self.pixel_values = self.input_name("pixel_values")
        self.tables = transforms.lookup_tables(
            p.get("rescale_factor", 1 / 255) if do_rescale else None,
            p.get("image_mean", mean) if do_normalize else None,
            p.get("image_std", std) if do_normalize else None,
            dtype=self.input_dtype(self.pixel_values),
        )
        self.bgr = str(p.get("channel_order", "rgb")).lower() == "bgr"
        self.logits_name = "logits" if "logits" in self.outputs else self.outputs[0]
        if not self.id2label:
            self.id2label = read_labels(self.folder, self.config)
        self.num_labels = len(self.id2label) or int(self.config.get("num_labels", 0))
        self.default_function = self._default_function()

    def _size_from_graph(self) -> dict[str, int]:
        """No size in preprocessor_config.json: the ONNX input's fixed height and width, if it has them."""
        shape = next(iter(self.inputs.values())).shape
        if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape[2:]):
            return {"height": int(shape[2]), "width": int(shape[3])}
        return {}

    def _default_function(self) -> str:
        """The pipeline's rule for `function_to_apply` when the request does not say."""
        c = self.config
        if c.get("output_is_probability"):
            return "none"
        problem = c.get("problem_type")
        if problem == "regression":
            return "none"
        if problem == "multi_label_classification" or self.num_labels == 1:
            return "sigmoid"
        if problem == "single_label_classification" or self.num_labels > 1:
            return "softmax"
        return str(c.get("function_to_apply", "none"))

    def check_params(self, params: Mapping[str, Any], schema: str | None = None) -> dict[str, Any]:
        checked = super().check_params(params, schema)
        top_k = checked.get("top_k", 5)
        checked["top_k"] = min(top_k, self.num_labels) if self.num_labels else top_k
        checked.setdefault("function_to_apply", self.default_function)
        return checked

    def pixel_values_for(self, image: Image.Image) -> np.ndarray:
        """The processor's `pixel_values` for one image."""
        s = self.size
        if self.do_resize and s:
            if "shortest_edge" in s and self.crop_pct is not None and s["shortest_edge"] < 384:
                edge = s["shortest_edge"]
                h, w = transforms.size_shortest_edge(image.height, image.width, int(edge / self.crop_pct))
                image = transforms.center_crop(transforms.resize(image, h, w, self.resample), edge, edge)
            elif "shortest_edge" in s and self.crop_pct is not None:
                image = transforms.resize(image, s["shortest_edge"], s["shortest_edge"], self.resample)
            elif "height" in s and "width" in s:
                image = transforms.resize(image, s["height"], s["width"], self.resample)
            elif "shortest_edge" in s and "longest_edge" in s:
                h, w = transforms.size_with_aspect_ratio(
                    image.height, image.width, s["shortest_edge"], s["longest_edge"]
                )
                image = transforms.resize(image, h, w, self.resample)
            elif "shortest_edge" in s:
                h, w = transforms.size_shortest_edge(image.height, image.width, s["shortest_edge"])
                image = transforms.resize(image, h, w, self.resample)
        if self.crop:
            image = transforms.center_crop(image, self.crop["height"], self.crop["width"])
        return transforms.to_tensor(image, self.tables, bgr=self.bgr)

    def prepare(self, image: Image.Image) -> Prepared:
        return Prepared({self.pixel_values: self.pixel_values_for(image)}, image.height, image.width)

    def finish(self, outputs: dict[str, np.ndarray], prepared: Prepared, params: Mapping[str, Any]) -> list[dict]:
        logits = outputs[self.logits_name].reshape(-1).astype(np.float32)
        scores = apply_function(params["function_to_apply"], logits)
        order = np.argsort(-scores, kind="stable")[: params["top_k"]]
        return [{"label": self.label(int(i)), "score": float(scores[i])} for i in order]
