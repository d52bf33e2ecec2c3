"""What the image tasks share: an image in (raw bytes or `{"image": [...]}`), read by a family of its folder.

A folder's family is chosen from its config.json `model_type` / preprocessor_config.json `image_processor_type`,
among the task's families in order; the task's fallback family reads any other folder. Adding a family: a module
with a `Family` subclass (runtime/inference/model.py), and one entry in its task's `families`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..entry import ModelEntry
from ..errors import ModelError, NoSuchModel
from ..inference.model import Family, LoadedModel, onnx_file, read_json
from ..inference.session import open_session
from .base import Task, TaskInput
from .binary import BYTE_ARRAY_ITEMS, binary_field

IMAGE_ARRAY: dict[str, Any] = {
    "type": "array",
    "description": "The image as an array of its file's bytes (PNG, JPEG, WebP, GIF, BMP), each an unsigned "
    "8-bit integer. The REST API also takes the raw file as the request body.",
    "items": BYTE_ARRAY_ITEMS,
}
MISSING = 'Request body is missing: send an image as binary data or as {"image": [...]}'


def image_bytes(inputs: Any) -> tuple[bytes, dict[str, Any]]:
    """Split a request's inputs into the image bytes and any other fields (the model's parameters)."""
    return binary_field(inputs, "image", MISSING)


class VisionTask(Task):
    """An image task: its families (the first is tried first; `fallback` reads folders no family claims)."""

    input_key: ClassVar[str | None] = "image"
    families: ClassVar[tuple[type[Family], ...]] = ()
    fallback: ClassVar[type[Family] | None] = None
    output: ClassVar[dict[str, Any]] = {}

    def read(self, inputs: Any, entry: ModelEntry) -> TaskInput:
        data, rest = image_bytes(inputs)
        return TaskInput(data, rest, len(data))

    def limit(self, settings: Any) -> int | float:
        return int(settings.max_image_pixels)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.families[0].params) if self.families else {}

    def input_schema(self, key: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if key != self.name:
            raise NoSuchModel(f"No schema for task {key}")
        params = {name: param.schema() for name, param in self.params.items()}
        for name, value in (defaults or {}).items():
            if name in params:
                params[name]["default"] = value
        return {
            "type": "object",
            "description": "The image to run the model on, and optional parameters",
            "properties": {"image": copy.deepcopy(IMAGE_ARRAY), **params},
            "required": ["image"],
            "additionalProperties": False,
        }

    def output_schema(self, key: str) -> dict[str, Any]:
        if key != self.name:
            raise NoSuchModel(f"No schema for task {key}")
        return copy.deepcopy(self.output)

    def claims(self, config: Mapping[str, Any], processor: Mapping[str, Any]) -> bool:
        return self.family_for(config, processor) is not None

    def family_for(self, config: Mapping[str, Any], processor: Mapping[str, Any]) -> type[Family] | None:
        """The family of ours that reads a folder with these JSON files (not the fallback)."""
        return next((f for f in self.families if f.matches(config, processor)), None)

    def load(self, folder: Path, variant: str = "model.onnx", intra_op_threads: int = 1) -> LoadedModel:
        config, processor = read_json(folder / "config.json"), read_json(folder / "preprocessor_config.json")
        family_cls = self.family_for(config, processor) or self.fallback
        if family_cls is None:
            kind = config.get("model_type") or processor.get("image_processor_type") or "unknown"
            raise ModelError(f"no {self.name} family reads model_type {kind!r}")
        return open_family(folder, family_cls, config, processor, variant, intra_op_threads)


def open_family(
    folder: Path,
    family_cls: type[Family],
    config: Mapping[str, Any],
    processor: Mapping[str, Any],
    variant: str,
    intra_op_threads: int,
) -> LoadedModel:
    """One onnxruntime session over the folder's ONNX file, read by `family_cls`."""
    path = onnx_file(folder, variant)
    session = open_session(path, intra_op_threads)
    return LoadedModel(folder=folder, onnx_path=path, family=family_cls(folder, config, processor, session))
