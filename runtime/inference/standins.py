"""The bundled stand-in weights: small real pretrained models shipped inside the package.

They answer for any model of their task whose real weights are not on disk (`[emulator] weights = "auto"`), or
for every model (`weights = "stand-in"`), so the emulator gives real detections and labels on a fresh, offline
machine. Their answers keep the emulated model's output schema and label style (COCO names for detectors,
ImageNet names for classifiers; pocketsphinx, a real offline recognizer of US English, for the Whisper models) and are always marked as stand-ins (`x-emu-weights: stand-in:<name>`).
Sources and licences: runtime/standins/NOTICE.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent.parent / "standins"


@dataclass(frozen=True)
class StandIn:
    name: str  # what x-emu-weights, the log and the ledger show after "stand-in:"
    task: str
    folder: Path

    @property
    def label(self) -> str:
        return f"stand-in:{self.name}"


STANDINS: dict[str, StandIn] = {
    s.task: s
    for s in (
        StandIn("yolox-nano", "object-detection", FOLDER / "yolox-nano"),
        StandIn("squeezenet", "image-classification", FOLDER / "squeezenet-fp16"),
        # pocketsphinx's US English model ships inside its wheel; runtime/speech/pocketsphinx.py loads it
        StandIn("pocketsphinx", "automatic-speech-recognition", FOLDER / "pocketsphinx"),
    )
}

REAL = "real"


def for_task(task: str) -> StandIn | None:
    return STANDINS.get(task)
