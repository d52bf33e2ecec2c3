"""The speech family: a recognizer (Whisper in onnxruntime, or the pocketsphinx stand-in) behind the same
interface as the vision families, so the service's one call path runs it: `check_params` validates the request
against the model's schema, `prepare_data` decodes the audio on the preparation threads, `infer` recognises in
the inference slot and returns what was `Heard`: the model's output, the transcript and the billed duration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...errors import BadInput, SchemaMismatch
from ...speech.outputs import SHAPES
from ...speech.transcript import Segment, Transcript, Word
from .schemas import DEFAULT_SCHEMA, PARAMS

MS_PER_SECOND = 1000


class Recognizer(Protocol):
    def transcribe(
        self,
        samples: np.ndarray,
        task: str | None = None,
        language: str | None = None,
        initial_prompt: str | None = None,
        prefix: str | None = None,
        timestamps: bool | str = "word",
    ) -> Transcript: ...


@dataclass
class PreparedAudio:
    samples: np.ndarray  # float32, mono, 16 kHz

    @property
    def audio_ms(self) -> int:
        """The billed duration: the decoded length in whole milliseconds, rounded up (16 samples a millisecond)."""
        return math.ceil(len(self.samples) * MS_PER_SECOND / 16000)


@dataclass
class Heard:
    """A speech request's answer: the Workers AI output, the transcript (for the Hugging Face door's shape) and
    the billed audio duration in milliseconds."""

    output: dict[str, Any]
    transcript: Transcript
    audio_ms: int


class SpeechFamily:
    """One recognizer serving every speech schema: the schema (from the catalog entry) picks params and output."""

    batchable = False  # one recording at a time: Whisper's decoding loop is per recording

    def __init__(self, folder: Path | None, recognizer: Recognizer, *, translates: bool = True) -> None:
        self.folder = folder
        self.recognizer = recognizer
        self.translates = translates

    def check_params(self, params: Mapping[str, Any], schema: str | None = None) -> dict[str, Any]:
        schema = schema or DEFAULT_SCHEMA
        declared = PARAMS.get(schema, {})
        unknown = [name for name in params if name not in declared]
        if unknown:
            paths = ", ".join(f"/{str(name)[:64]}" for name in unknown[:10])
            raise SchemaMismatch(f"Additional or unevaluated properties '{paths}' at '/' not allowed")
        checked: dict[str, Any] = {name: declared[name].check(name, value) for name, value in params.items()}
        language = checked.get("language")
        if language is not None and not (2 <= len(language) <= 8 and language.replace("-", "").isalpha()):
            raise BadInput(f"parameter 'language' must be a language code such as en or de, not {language[:40]!r}")
        checked["schema"] = schema
        return checked

    def prepare_data(self, data: bytes, max_audio_seconds: float) -> PreparedAudio:
        from ...audio.decode import decode_audio

        return PreparedAudio(decode_audio(data, max_seconds=max_audio_seconds).samples)

    def infer(self, prepared: PreparedAudio, params: Mapping[str, Any]) -> Heard:
        from ...audio.vad import keep_speech

        samples = prepared.samples
        kept = keep_speech(samples) if params.get("vad_filter") else None
        options = {k: params[k] for k in ("task", "language", "initial_prompt", "prefix") if params.get(k)}
        if kept is not None and kept.samples.size == 0:
            transcript = Transcript(text="", segments=[], language=options.get("language", "en"))
        else:
            transcript = self.recognizer.transcribe(kept.samples if kept is not None else samples, **options)
        if kept is not None:
            transcript = _mapped(transcript, kept)
        transcript.duration = len(samples) / 16000
        shape = SHAPES[str(params.get("schema", DEFAULT_SCHEMA))]
        return Heard(shape(transcript), transcript, prepared.audio_ms)


def _mapped(t: Transcript, kept: Any) -> Transcript:
    """A transcript of the speech-only audio, its times moved back onto the original recording."""
    at = kept.original_time
    segments = [
        Segment(
            at(s.start),
            at(s.end),
            s.text,
            [Word(w.word, at(w.start), at(w.end)) for w in s.words],
            s.temperature,
            s.avg_logprob,
            s.compression_ratio,
            s.no_speech_prob,
        )
        for s in t.segments
    ]
    return Transcript(t.text, segments, t.language, t.language_probability, t.duration, kept.seconds)


class StandInRecognizer:
    """The pocketsphinx stand-in behind the Whisper options: it hears US English only, so `language` and `task`
    leave the words as they are (and the transcript says "en"); `prefix` starts the text, as it does Whisper's."""

    def __init__(self) -> None:
        from ...speech.pocketsphinx import recognizer

        self.engine = recognizer()

    def transcribe(
        self,
        samples: np.ndarray,
        task: str | None = None,
        language: str | None = None,
        initial_prompt: str | None = None,
        prefix: str | None = None,
        timestamps: bool | str = "word",
    ) -> Transcript:
        t = self.engine.transcribe(samples)
        prefix = (prefix or "").strip()
        if prefix:
            t.text = f"{prefix} {t.text}".strip()
        return t
