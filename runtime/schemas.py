"""Workers AI's input and output JSON schemas per task, as data (served by `GET .../ai/models/schema`).

The shapes follow Workers AI's published model schemas; the optional parameters are generated from the
declarations the task families validate requests with (`Family.params`, runtime/inference), with the model's
catalog defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .errors import NoSuchModel

IMAGE_ARRAY: dict[str, Any] = {
    "type": "array",
    "description": "The image as an array of its file's bytes (PNG, JPEG, WebP, GIF, BMP), each an unsigned "
    "8-bit integer. The REST API also takes the raw file as the request body.",
    "items": {"type": "integer", "minimum": 0, "maximum": 255, "description": "One byte, 0 to 255"},
}


def parameters(task: str) -> dict[str, dict[str, Any]] | None:
    """The JSON Schema of each parameter a task's families take (all families of a task take the same)."""
    from .inference.families import FAMILIES

    for family in FAMILIES:
        if family.task == task:
            return {name: param.schema() for name, param in family.params.items()}
    return None


OUTPUTS: dict[str, dict[str, Any]] = {
    "object-detection": {
        "type": "array",
        "description": "The objects found in the image, each with its label, score and bounding box in pixels",
        "items": {
            "type": "object",
            "properties": {
                "score": {"type": "number", "description": "How confident the model is in this detection, 0 to 1"},
                "label": {"type": "string", "description": "The detected object's class"},
                "box": {
                    "type": "object",
                    "description": "The bounding box, in pixels of the input image",
                    "properties": {
                        "xmin": {"type": "number", "description": "Left edge"},
                        "ymin": {"type": "number", "description": "Top edge"},
                        "xmax": {"type": "number", "description": "Right edge"},
                        "ymax": {"type": "number", "description": "Bottom edge"},
                    },
                },
            },
        },
    },
    "image-classification": {
        "type": "array",
        "description": "The most likely labels for the image, best first",
        "items": {
            "type": "object",
            "properties": {
                "score": {"type": "number", "description": "How likely the label is, 0 to 1"},
                "label": {"type": "string", "description": "The predicted class"},
            },
        },
    },
}


def input_schema(task: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    params = parameters(task)
    if params is None:
        raise NoSuchModel(f"No schema for task {task}")
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


def output_schema(task: str) -> dict[str, Any]:
    schema = OUTPUTS.get(task)
    if schema is None:
        raise NoSuchModel(f"No schema for task {task}")
    return copy.deepcopy(schema)


def model_schema(task: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"input": ..., "output": ...}` for a model of `task`."""
    return {"input": input_schema(task, defaults), "output": output_schema(task)}
