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


WORD = {
    "type": "object",
    "properties": {
        "word": {"type": "string", "description": "The word"},
        "start": {"type": "number", "description": "The second this word begins in the recording"},
        "end": {"type": "number", "description": "The second this word ends in the recording"},
    },
}
VTT = {"type": "string", "description": "The transcript as WebVTT subtitles"}
WORD_COUNT = {"type": "number", "description": "The number of words in the transcript"}
AUDIO_ARRAY: dict[str, Any] = {
    "type": "array",
    "description": "The audio file's bytes (WAV, MP3, FLAC, OGG, WebM, M4A), each an unsigned 8-bit integer. The "
    "REST API also takes the raw file as the request body.",
    "items": {"type": "integer", "minimum": 0, "maximum": 255, "description": "One byte, 0 to 255"},
}

# Speech models have one input/output shape per model family (catalog key `schema`), as Workers AI defines them.
SPEECH_INPUTS: dict[str, dict[str, Any]] = {
    "whisper": {
        "type": "object",
        "description": "The recording to transcribe",
        "properties": {"audio": AUDIO_ARRAY},
        "required": ["audio"],
        "additionalProperties": False,
    },
    "whisper-large-v3-turbo": {
        "type": "object",
        "description": "The recording to transcribe or translate, and how",
        "properties": {
            "audio": {"type": "string", "description": "The audio file, base64-encoded"},
            "task": {
                "type": "string",
                "enum": ["transcribe", "translate"],
                "default": "transcribe",
                "description": "Transcribe in the spoken language, or translate to English",
            },
            "language": {
                "type": "string",
                "description": "The spoken language (ISO 639-1, e.g. en); detected when not given",
            },
            "vad_filter": {
                "type": "boolean",
                "default": False,
                "description": "Drop the stretches without speech (voice activity detection) before recognising",
            },
            "initial_prompt": {
                "type": "string",
                "description": "Text that gives the model context for the recording (names, spelling, style)",
            },
            "prefix": {
                "type": "string",
                "description": "Text the transcript starts with; the model continues from it",
            },
        },
        "required": ["audio"],
        "additionalProperties": False,
    },
}
SPEECH_OUTPUTS: dict[str, dict[str, Any]] = {
    "whisper": {
        "type": "object",
        "description": "The transcript, its words with their times, and WebVTT subtitles",
        "properties": {
            "text": {"type": "string", "description": "The transcript"},
            "word_count": WORD_COUNT,
            "words": {"type": "array", "items": WORD},
            "vtt": VTT,
        },
        "required": ["text"],
    },
    "whisper-large-v3-turbo": {
        "type": "object",
        "description": "The transcript with its segments, words and times, and what was heard",
        "properties": {
            "transcription_info": {
                "type": "object",
                "properties": {
                    "language": {"type": "string", "description": "The language of the audio (ISO 639-1)"},
                    "language_probability": {"type": "number", "description": "How sure the language is, 0 to 1"},
                    "duration": {"type": "number", "description": "The audio's length in seconds"},
                    "duration_after_vad": {
                        "type": "number",
                        "description": "The length in seconds left after voice activity detection",
                    },
                },
            },
            "text": {"type": "string", "description": "The transcript"},
            "word_count": WORD_COUNT,
            "segments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": {"type": "number", "description": "Where the segment starts, in seconds"},
                        "end": {"type": "number", "description": "Where the segment ends, in seconds"},
                        "text": {"type": "string", "description": "The segment's text"},
                        "temperature": {"type": "number", "description": "The sampling temperature used"},
                        "avg_logprob": {"type": "number", "description": "The mean log probability of its tokens"},
                        "compression_ratio": {"type": "number", "description": "How repetitive its text is"},
                        "no_speech_prob": {"type": "number", "description": "How likely it holds no speech"},
                        "words": {"type": "array", "items": WORD},
                    },
                },
            },
            "vtt": VTT,
        },
        "required": ["text"],
    },
}


def schema_name(entry: Any) -> str:
    """Which schema a catalog entry uses: its own `schema` (speech), else its task's."""
    return entry.schema or entry.task


def input_schema(task: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The input schema of a task (vision) or of a speech schema name (`whisper`, `whisper-large-v3-turbo`)."""
    if task in SPEECH_INPUTS:
        return copy.deepcopy(SPEECH_INPUTS[task])
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
    schema = OUTPUTS.get(task) or SPEECH_OUTPUTS.get(task)
    if schema is None:
        raise NoSuchModel(f"No schema for task {task}")
    return copy.deepcopy(schema)


def model_schema(task: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"input": ..., "output": ...}` for a model of `task`."""
    return {"input": input_schema(task, defaults), "output": output_schema(task)}
