"""A model = a folder in the Hugging Face layout, read by the task family its config names."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort
from PIL import Image

from ..errors import BadInput, ModelError, SchemaMismatch
from .images import DEFAULT_MAX_PIXELS, decode_image

ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


@dataclass
class Prepared:
    """One image made ready for the graph (decoded and pre-processed outside the inference slot): the feeds, and
    what post-processing needs to know of the image (its size; YOLOX's letterbox scales in `extra`)."""

    feeds: dict[str, np.ndarray]
    height: int
    width: int
    extra: tuple[Any, ...] = ()


class Family:
    """A task family: pre-processing, the ONNX call and post-processing shared by all its models.

    `prepare` (pre-processing) runs on the preparation threads, `run` + `finish` in the inference slot."""

    params: ClassVar[dict[str, Param]] = {}  # the request parameters the family takes

    def __init__(
        self, folder: Path, config: Mapping[str, Any], processor: Mapping[str, Any], session: ort.InferenceSession
    ) -> None:
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

    def check_params(self, params: Mapping[str, Any], schema: str | None = None) -> dict[str, Any]:
        """Validated parameters with their defaults; BadInput naming any unknown or mistyped one. (`schema` is
        for tasks with several input schemas, i.e. speech; a vision task has one.)"""
        unknown = [name for name in params if name not in self.params]
        if unknown:  # Cloudflare's validator refuses keys the model's input schema does not declare
            paths = ", ".join(f"/{str(name)[:64]}" for name in unknown[:10])
            raise SchemaMismatch(f"Additional or unevaluated properties '{paths}' at '/' not allowed")
        return {name: self.params[name].check(name, value) for name, value in params.items()}

    def prepare(self, image: Image.Image) -> Prepared:
        raise NotImplementedError

    def prepare_data(self, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Prepared:
        """The request's bytes decoded and pre-processed (on the preparation threads)."""
        return self.prepare(decode_image(data, max_pixels))

    def infer(self, prepared: Prepared, params: Mapping[str, Any]) -> list[dict]:
        """The graph and post-processing (in the inference slot)."""
        return self.finish(self.run(prepared.feeds), prepared, params)

    @functools.cached_property
    def batchable(self) -> bool:
        """Whether the graph takes a batch: every input's first dimension is symbolic (read once, not per request)."""
        return all(i.shape and not isinstance(i.shape[0], int) for i in self.session.get_inputs())

    def finish(self, outputs: dict[str, np.ndarray], prepared: Prepared, params: Mapping[str, Any]) -> list[dict]:
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


@dataclass(frozen=True)
class Param:
    """One request parameter of a task family, declared once: request validation (`check`) and the
    `GET .../ai/models/schema` JSON Schema (`schema`) both come from it."""

    kind: str  # "number" | "integer" | "string" | "boolean"
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    default: Any = None  # shown in the JSON Schema (the catalog's `defaults` may give one per model instead)

    def check(self, name: str, value: Any) -> Any:
        """The valid value (numbers as float/int, choices lower-cased); BadInput naming the parameter."""
        if self.kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadInput(f"parameter {name!r} must be a number, not {_shown(value)}")
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any float
                number = math.inf if value > 0 else -math.inf
            if math.isnan(number) or (math.isinf(number) and self.minimum is None and self.maximum is None):
                raise BadInput(f"parameter {name!r} must be a number, not {_shown(value)}")
            if (self.minimum is not None and number < self.minimum) or (
                self.maximum is not None and number > self.maximum
            ):
                raise BadInput(
                    f"parameter {name!r} must be between {self.minimum} and {self.maximum}, not {_shown(value)}"
                )
            return number
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise BadInput(f"parameter {name!r} must be true or false, not {_shown(value)}")
            return value
        if self.kind == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInput(f"parameter {name!r} must be an integer, not {_shown(value)}")
            if self.minimum is not None and value < self.minimum:
                raise BadInput(f"parameter {name!r} must be at least {int(self.minimum)}, not {_shown(value)}")
            return value
        if not isinstance(value, str) or (self.choices and value.lower() not in self.choices):
            raise BadInput(f"parameter {name!r} must be one of {', '.join(self.choices)}, not {_shown(value)}")
        return value.lower() if self.choices else value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.minimum is not None:
            out["minimum"] = self.minimum if self.kind == "number" else int(self.minimum)
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["enum"] = list(self.choices)
        if self.default is not None:
            out["default"] = self.default
        out["description"] = self.doc
        return out


def _shown(value: Any, limit: int = 80) -> str:
    """A value as an error message quotes it: its repr, cut short (a huge int has no repr past 4300 digits)."""
    try:
        text = repr(value)
    except ValueError:
        text = f"<an integer of about {value.bit_length() * 0.30103:.0f} digits>"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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
    for candidate in (
        folder / "onnx" / variant,
        folder / "onnx" / "model.onnx",
        folder / variant,
        folder / "model.onnx",
    ):
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
    folder: Path | None
    onnx_path: Path | None
    family: Any  # a Family (vision) or a SpeechFamily (runtime/tasks/speech_recognition/family.py): the same interface
    weights: str = "real"  # or "stand-in:<name>" for a bundled stand-in (runtime/tasks/)
    batcher: Any = field(default=None, repr=False, compare=False)  # inference/batching.py, when it batches

    @property
    def batchable(self) -> bool:
        return bool(self.family.batchable)

    def prepare(self, data: bytes, limit: int | float = DEFAULT_MAX_PIXELS) -> Any:
        """Decode and pre-process: the part of a request that needs no inference slot. `limit` is the family's
        size limit: pixels for images, seconds for audio."""
        return self.family.prepare_data(data, limit)

    def infer(self, prepared: Any, params: Mapping[str, Any]) -> Any:
        """The graph and post-processing: what the inference slot holds."""
        return self.family.infer(prepared, params)

    def predict(self, data: bytes, params: Mapping[str, Any], limit: int | float = DEFAULT_MAX_PIXELS) -> Any:
        """Request bytes to the Workers AI output; `params` must already have passed `check_params`."""
        return self.infer(self.prepare(data, limit), params)
