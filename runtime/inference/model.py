"""A model = a folder in the Hugging Face layout, read by the task family its config names."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import onnxruntime as ort
from PIL import Image

from ..errors import BadInput, ModelError
from .images import DEFAULT_MAX_PIXELS, decode_image

ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


class Family:
    """A task family: pre-processing, the ONNX call and post-processing shared by all its models."""

    task: ClassVar[str]
    params_allowed: ClassVar[tuple[str, ...]] = ()

    def __init__(self, folder: Path, config: Mapping[str, Any], processor: Mapping[str, Any],
                 session: ort.InferenceSession) -> None:
        self.folder = folder
        self.config = config
        self.processor = processor
        self.session = session
        self.inputs = {i.name: i for i in session.get_inputs()}
        self.outputs = [o.name for o in session.get_outputs()]
        self.id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}

    @classmethod
    def matches(cls, config: Mapping[str, Any], processor: Mapping[str, Any]) -> bool:
        return False

    def label(self, index: int) -> str:
        return self.id2label.get(index, f"LABEL_{index}")

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validated parameters with their defaults; BadInput naming any unknown or mistyped one."""
        unknown = sorted(set(params) - set(self.params_allowed))
        if unknown:
            allowed = ", ".join(self.params_allowed) or "none"
            raise BadInput(f"unknown parameter {unknown[0]!r} for {self.task} (allowed: {allowed})")
        return dict(params)

    def predict(self, image: Image.Image, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def input_name(self, preferred: str) -> str:
        if preferred in self.inputs:
            return preferred
        return next(iter(self.inputs))

    def input_dtype(self, name: str) -> Any:
        return ONNX_DTYPES.get(self.inputs[name].type, np.float32)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(None, feeds)
        return dict(zip(self.outputs, values))


def number_param(params: Mapping[str, Any], name: str, low: float, high: float) -> float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(f"parameter {name!r} must be a number, not {value!r}")
    if not low <= value <= high:
        raise BadInput(f"parameter {name!r} must be between {low} and {high}, not {value!r}")
    return float(value)


def int_param(params: Mapping[str, Any], name: str, low: int) -> int:
    value = params[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"parameter {name!r} must be an integer, not {value!r}")
    if value < low:
        raise BadInput(f"parameter {name!r} must be at least {low}, not {value!r}")
    return value


def read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} does not hold a JSON object")
    return data


def find_onnx(folder: Path, variant: str = "model.onnx") -> Path | None:
    """The one search order for a folder's ONNX file: onnx/<variant>, onnx/model.onnx, <variant>, model.onnx."""
    for candidate in (folder / "onnx" / variant, folder / "onnx" / "model.onnx", folder / variant,
                      folder / "model.onnx"):
        if candidate.is_file():
            return candidate
    return None


def onnx_file(folder: Path, variant: str = "model.onnx") -> Path:
    found = find_onnx(folder, variant)
    if found is None:
        raise ModelError(f"no ONNX model in {folder} (looked for onnx/{variant} and onnx/model.onnx)")
    return found


@dataclass
class LoadedModel:
    folder: Path
    onnx_path: Path
    family: Family
    weights: str = "real"  # or "stand-in:<name>" for a bundled stand-in (inference/standins.py)

    @property
    def task(self) -> str:
        return self.family.task

    def predict(self, data: bytes, params: Mapping[str, Any], max_pixels: int = DEFAULT_MAX_PIXELS) -> list[dict]:
        """Image bytes to the Workers AI output; `params` must already have passed `check_params`."""
        return self.family.predict(decode_image(data, max_pixels), params)
