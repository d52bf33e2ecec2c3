"""Loading a model folder: the task families, in the order they are tried: a model folder's family is chosen from its config.json
`model_type` / preprocessor_config.json `image_processor_type`; the classifier is the fallback of its task.

Adding a family: a module with a `Family` subclass (see model.py), and one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..catalog import ASR
from ..errors import ModelError
from .classification import ClassifierFamily
from .detr import DetrFamily
from .model import Family, LoadedModel, onnx_file, read_json
from .session import open_session
from .standins import StandIn
from .yolox import YoloxFamily

FAMILIES: tuple[type[Family], ...] = (DetrFamily, YoloxFamily, ClassifierFamily)


def family_for(config: Mapping[str, Any], processor: Mapping[str, Any], task: str | None) -> type[Family]:
    kind = config.get("model_type") or processor.get("image_processor_type") or "unknown"
    for family in FAMILIES:
        if family.matches(config, processor):
            if task is not None and family.task != task:
                raise ModelError(f"model_type {kind!r} is a {family.task} model, not {task}")
            return family
    for family in FAMILIES:
        if (task is None or family.task == task) and getattr(family, "fallback", False):
            return family
    raise ModelError(f"no {task or 'model'} family reads model_type {kind!r}")


def load_model(
    folder: Path, task: str | None = None, variant: str = "model.onnx", intra_op_threads: int = 1
) -> LoadedModel:
    """The folder's model: its family read from its JSON files, one onnxruntime session over its ONNX file (two
    for Whisper: encoder and decoder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"model folder {folder} does not exist")
    config = read_json(folder / "config.json")
    if task == ASR or config.get("model_type") == "whisper":
        return _load_whisper(folder, config, task, variant, intra_op_threads)
    processor = read_json(folder / "preprocessor_config.json")
    family_cls = family_for(config, processor, task)
    path = onnx_file(folder, variant)
    session = open_session(path, intra_op_threads)
    return LoadedModel(folder=folder, onnx_path=path, family=family_cls(folder, config, processor, session))


def _load_whisper(folder: Path, config: Mapping[str, Any], task: str | None, variant: str, threads: int) -> LoadedModel:
    from ..speech.family import SpeechFamily
    from ..speech.whisper import WhisperModel

    if config.get("model_type") != "whisper":
        kind = config.get("model_type") or "unknown"
        raise ModelError(f"model_type {kind!r} is not a speech recognition model (this emulator runs Whisper)")
    if task is not None and task != ASR:
        raise ModelError(f"model_type 'whisper' is a {ASR} model, not {task}")
    suffix = variant.removeprefix("model").removesuffix(".onnx")
    model = WhisperModel(folder, suffix=suffix, intra_op_threads=threads)
    return LoadedModel(folder=folder, onnx_path=folder / "onnx", family=SpeechFamily(folder, model))


def load_standin(standin: StandIn, intra_op_threads: int = 1) -> LoadedModel:
    """A bundled stand-in, loaded like a model folder (pocketsphinx: its own engine, no ONNX)."""
    if standin.task == ASR:
        from ..speech.family import SpeechFamily, StandInRecognizer

        model = LoadedModel(folder=None, onnx_path=None, family=SpeechFamily(None, StandInRecognizer()))
    else:
        model = load_model(standin.folder, task=standin.task, intra_op_threads=intra_op_threads)
    model.weights = standin.label
    return model
