"""Object detection: an image in, `[{score, label, box: {xmin, ymin, xmax, ymax}}]` out. Families: DETR, YOLOX;
stand-in: YOLOX-Nano (COCO)."""

from __future__ import annotations

from typing import Any

from ..inference.detr import DetrFamily
from ..inference.yolox import YoloxFamily
from .base import STANDIN_FOLDER, StandIn
from .vision import VisionTask

OUTPUT: dict[str, Any] = {
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
}


class ObjectDetection(VisionTask):
    name = "object-detection"
    label = "Object Detection"
    description = "Finds the objects in an image and returns their labels, scores and bounding boxes."
    families = (DetrFamily, YoloxFamily)
    output = OUTPUT
    standin = StandIn("yolox-nano", STANDIN_FOLDER / "yolox-nano")

    def quantize_params(self) -> dict[str, Any]:
        return {"threshold": 0.5}


TASK = ObjectDetection()
