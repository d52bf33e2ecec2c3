"""What a recognizer hears: the text, its segments and its words with their times, whatever engine produced it.

Workers AI's three output shapes (outputs.py) are all made from this one value.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Word:
    word: str  # as the recognizer spells it, without surrounding spaces
    start: float  # seconds from the start of the audio
    end: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


@dataclass
class Transcript:
    text: str
    segments: list[Segment]
    language: str = "en"
    language_probability: float = 1.0
    duration: float = 0.0  # seconds of audio heard
    duration_after_vad: float | None = None  # seconds left after voice activity detection, when it ran

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]
