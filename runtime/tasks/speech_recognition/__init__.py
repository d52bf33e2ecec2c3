"""Speech recognition: a recording in (raw bytes, `{"audio": [...]}`, or base64 for whisper-large-v3-turbo),
Workers AI's Whisper shapes out, billed by the audio's duration. Whisper runs in onnxruntime (runtime/speech/whisper);
the stand-in is pocketsphinx (US English, its model inside its wheel)."""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...entry import ModelEntry
from ...errors import BadInput, MissingBody, ModelError, NoSuchModel, SchemaMismatch
from ...inference.model import LoadedModel
from ...speech.outputs import huggingface_output
from ..base import CONFIG_FILES, STANDIN_FOLDER, StandIn, Task, TaskInput
from ..binary import binary_field
from .family import Heard, SpeechFamily, StandInRecognizer
from .schemas import BASE64_AUDIO, DEFAULT_SCHEMA, HUGGINGFACE_OUTPUT, OUTPUTS, input_schema

# What a Whisper folder adds: its decoding settings and tokenizer (as the transformers.js exports publish them)
SPEECH_FILES = (
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "normalizer.json",
)
MISSING = 'Request body is missing: send the audio as binary data or as {"audio": [...]}'


class SpeechRecognition(Task):
    name = "automatic-speech-recognition"
    label = "Automatic Speech Recognition"
    description = "Transcribes the speech in a recording into text, with the times of its words."
    input_key = "audio"
    explains_foreign_folders = True
    units = ("request", "audio-ms")
    standin = StandIn("pocketsphinx", STANDIN_FOLDER / "pocketsphinx")

    def read(self, inputs: Any, entry: ModelEntry) -> TaskInput:
        if self.schema_key(entry) not in BASE64_AUDIO:
            data, rest = binary_field(inputs, "audio", MISSING)
            return TaskInput(data, rest, len(data))
        if inputs is None:
            raise MissingBody(MISSING)
        if not isinstance(inputs, Mapping):  # turbo takes JSON only, the file in base64
            raise SchemaMismatch("""Type mismatch of '/', 'binary' not in 'object': send {"audio": "<base64>"}""")
        if "audio" not in inputs:
            raise SchemaMismatch("required properties at '/' are 'audio'")
        value = inputs["audio"]
        if not isinstance(value, str):
            raise BadInput(f"'audio' must be the audio file as a base64 string, not {type(value).__name__}")
        try:
            data = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BadInput("'audio' is not valid base64") from None
        if not data:
            raise BadInput("'audio' is empty")
        return TaskInput(data, {k: v for k, v in inputs.items() if k != "audio"}, len(data))

    def limit(self, settings: Any) -> int | float:
        return float(settings.max_audio_seconds)

    # -- schemas ---------------------------------------------------------------------------------------------

    def schema_key(self, entry: ModelEntry) -> str:
        return entry.schema or DEFAULT_SCHEMA

    def schema_keys(self) -> tuple[str, ...]:
        return tuple(OUTPUTS)

    def input_schema(self, key: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if key not in OUTPUTS:
            raise NoSuchModel(f"No schema for task {key}")
        return copy.deepcopy(input_schema(key))

    def output_schema(self, key: str) -> dict[str, Any]:
        if key not in OUTPUTS:
            raise NoSuchModel(f"No schema for task {key}")
        return copy.deepcopy(OUTPUTS[key])

    def huggingface_output_schema(self, key: str) -> dict[str, Any]:
        return copy.deepcopy(HUGGINGFACE_OUTPUT)

    # -- weights ---------------------------------------------------------------------------------------------

    def onnx_names(self, entry: ModelEntry, variant: str | None = None) -> tuple[str, ...]:
        """The encoder and the merged decoder, with the variant's suffix (`model_quantized.onnx` ->
        `encoder_model_quantized.onnx`, ...)."""
        suffix = (variant or entry.variant).removeprefix("model").removesuffix(".onnx")
        return (f"encoder_model{suffix}.onnx", f"decoder_model_merged{suffix}.onnx")

    def weight_files(self, entry: ModelEntry, variant: str | None = None) -> list[str]:
        return [*CONFIG_FILES, *SPEECH_FILES, *(f"onnx/{name}" for name in self.onnx_names(entry, variant))]

    def optional_files(self) -> tuple[str, ...]:
        return ("preprocessor_config.json", *SPEECH_FILES[2:])

    def has_weights(self, folder: Path, entry: ModelEntry) -> bool:
        return all((folder / "onnx" / name).is_file() for name in self.onnx_names(entry))

    def local_files(self, folder: Path, entry: ModelEntry) -> list[Path]:
        return [p for p in (folder / n for n in self.weight_files(entry)) if p.is_file()]

    def claims(self, config: Mapping[str, Any], processor: Mapping[str, Any]) -> bool:
        return config.get("model_type") == "whisper"

    def load(self, folder: Path, variant: str = "model.onnx", intra_op_threads: int = 1) -> LoadedModel:
        from ...inference.model import read_json
        from ...speech.whisper import WhisperModel

        config = read_json(folder / "config.json")
        if config.get("model_type") != "whisper":
            kind = config.get("model_type") or "unknown"
            raise ModelError(f"model_type {kind!r} is not a speech recognition model (this emulator runs Whisper)")
        suffix = variant.removeprefix("model").removesuffix(".onnx")
        model = WhisperModel(folder, suffix=suffix, intra_op_threads=intra_op_threads)
        return LoadedModel(folder=folder, onnx_path=folder / "onnx", family=SpeechFamily(folder, model))

    def load_standin(self, intra_op_threads: int = 1) -> LoadedModel:
        assert self.standin is not None
        model = LoadedModel(folder=None, onnx_path=None, family=SpeechFamily(None, StandInRecognizer()))
        model.weights = self.standin.label
        return model

    # -- the result ------------------------------------------------------------------------------------------

    def usage(self, value: Heard) -> dict[str, int]:
        return {"request": 1, "audio-ms": value.audio_ms}

    def answer(self, value: Heard) -> Any:
        return value.output

    def huggingface_request(
        self, entry: ModelEntry, inputs: Any, params: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], Any]:
        """The pipeline's `return_timestamps` shapes the answer (the service never sees it); turbo takes base64."""
        timestamps = return_timestamps(params.pop("return_timestamps", False))
        if inputs is not None and self.schema_key(entry) in BASE64_AUDIO:
            inputs = {"audio": base64.b64encode(inputs).decode()}
        return inputs, params, timestamps

    def huggingface_view(self, value: Heard, options: Any) -> Any:
        return huggingface_output(value.transcript, options or False)


def return_timestamps(value: Any) -> bool | str:
    """The ASR pipeline's `return_timestamps`: false, true (segments) or "word"."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("word", "true", "false"):
        return "word" if value.lower() == "word" else value.lower() == "true"
    raise BadInput(f"parameter 'return_timestamps' must be true, false or \"word\", not {str(value)[:40]!r}")


TASK = SpeechRecognition()
