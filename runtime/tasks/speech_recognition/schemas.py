"""Workers AI's speech schemas, one pair per catalog `schema` (`whisper`, also whisper-tiny-en, and
`whisper-large-v3-turbo`): the parameters besides `audio`, declared once (they validate requests and make the JSON
Schemas), and the output shapes."""

from __future__ import annotations

from typing import Any

from ...inference.model import Param
from ..binary import BYTE_ARRAY_ITEMS

DEFAULT_SCHEMA = "whisper"
TURBO = "whisper-large-v3-turbo"
BASE64_AUDIO = (TURBO,)  # the schemas that take the file as base64 JSON only

# The parameters each speech schema takes besides `audio`.
PARAMS: dict[str, dict[str, Param]] = {
    DEFAULT_SCHEMA: {},
    TURBO: {
        "task": Param(
            "string",
            "Transcribe in the spoken language, or translate to English",
            choices=("transcribe", "translate"),
            default="transcribe",
        ),
        "language": Param("string", "The spoken language (ISO 639-1, e.g. en); detected when not given"),
        "vad_filter": Param(
            "boolean", "Drop the stretches without speech (voice activity detection) before recognising", default=False
        ),
        "initial_prompt": Param(
            "string", "Text that gives the model context for the recording (names, spelling, style)"
        ),
        "prefix": Param("string", "Text the transcript starts with; the model continues from it"),
    },
}

AUDIO_ARRAY: dict[str, Any] = {
    "type": "array",
    "description": "The audio file's bytes (WAV, MP3, FLAC, OGG, WebM, M4A), each an unsigned 8-bit integer. The "
    "REST API also takes the raw file as the request body.",
    "items": BYTE_ARRAY_ITEMS,
}
AUDIO_BASE64 = {"type": "string", "description": "The audio file, base64-encoded"}
INPUT_DESCRIPTIONS = {
    DEFAULT_SCHEMA: "The recording to transcribe",
    TURBO: "The recording to transcribe or translate, and how",
}


def input_schema(key: str) -> dict[str, Any]:
    audio = AUDIO_BASE64 if key in BASE64_AUDIO else AUDIO_ARRAY
    params = {name: param.schema() for name, param in PARAMS[key].items()}
    return {
        "type": "object",
        "description": INPUT_DESCRIPTIONS[key],
        "properties": {"audio": dict(audio), **params},
        "required": ["audio"],
        "additionalProperties": False,
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

OUTPUTS: dict[str, dict[str, Any]] = {
    DEFAULT_SCHEMA: {
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
    TURBO: {
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

# The Hugging Face automatic-speech-recognition pipeline's answer (runtime/speech/outputs.py huggingface_output).
SECONDS = {"type": "number", "description": "Seconds from the start of the recording"}
HUGGINGFACE_OUTPUT: dict[str, Any] = {
    "type": "object",
    "description": "The transcript, as the automatic-speech-recognition pipeline returns it; with `chunks` when "
    'the `return_timestamps` parameter asks for them (true: segments, "word": words)',
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "description": "The transcript"},
        "chunks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["text", "timestamp"],
                "additionalProperties": False,
                "properties": {
                    "text": {"type": "string", "description": "The segment's or the word's text"},
                    "timestamp": {
                        "type": "array",
                        "description": "[start, end]",
                        "prefixItems": [SECONDS, SECONDS],
                        "minItems": 2,
                        "maxItems": 2,
                    },
                },
            },
        },
    },
}
