"""Image classification: an image in, `[{score, label}]` out, best first. Family: any single-image classifier;
stand-in: SqueezeNet (ImageNet-1k)."""

from __future__ import annotations

from typing import Any

from ..inference.classification import ClassifierFamily
from .base import STANDIN_FOLDER, StandIn
from .vision import VisionTask

OUTPUT: dict[str, Any] = {
    "type": "array",
    "description": "The most likely labels for the image, best first",
    "items": {
        "type": "object",
        "properties": {
            "score": {"type": "number", "description": "How likely the label is, 0 to 1"},
            "label": {"type": "string", "description": "The predicted class"},
        },
    },
}


class ImageClassification(VisionTask):
    name = "image-classification"
    label = "Image Classification"
    description = "Assigns an image the labels it most likely belongs to, with their scores."
    families = (ClassifierFamily,)
    fallback = ClassifierFamily
    reads_any_folder = True
    output = OUTPUT
    standin = StandIn("squeezenet", STANDIN_FOLDER / "squeezenet-fp16")

    def family_for(self, config: Any, processor: Any) -> Any:
        return None  # the classifier reads any folder no other task's family claims: it is the fallback


TASK = ImageClassification()
