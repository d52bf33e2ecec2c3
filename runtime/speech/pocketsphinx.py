"""The offline speech stand-in: CMU PocketSphinx (BSD), whose US English acoustic model, dictionary and language
model ship inside its wheel, so a fresh machine without Whisper weights still transcribes what it hears.

It is a much weaker recognizer than Whisper (no punctuation, no casing, US English only), and every answer it
gives is marked `stand-in:pocketsphinx`. Only the stretches with sound (runtime/audio/vad.py) are decoded, each
as one utterance of at most MAX_UTTERANCE_S (pocketsphinx normalises an utterance as a whole, which it hears
best), so silence costs nothing and memory stays flat on long recordings. Words carry the times of the
decoder's segmentation (100 frames a second); pauses of PAUSE_S or more start a new segment.
"""

from __future__ import annotations

import math
import re
import threading

import numpy as np

from .transcript import Segment, Transcript, Word

SAMPLE_RATE = 16000
MAX_UTTERANCE_S = 30
PAUSE_S = 0.8
# Search limits: with these the decoder runs about twice as fast with the same words on the test sentences
SEARCH = {"maxhmmpf": 3000, "maxwpf": 5}
ALTERNATE = re.compile(r"\(\d+\)$")  # cmudict's alternate pronunciations: "the(2)"
NON_WORDS = {"<s>", "</s>", "<sil>", "[noise]", "<unk>"}


def _is_word(token: str) -> bool:
    return token.lower() not in NON_WORDS and not (token.startswith("++") or token.startswith("[") or token == "")


class PocketSphinxRecognizer:
    """One decoder, used by one request at a time (pocketsphinx decoders are not thread-safe; a decoder takes
    about half a second to build, so it is built once and shared under a lock)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder, set_loglevel

        set_loglevel("FATAL")
        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", **SEARCH)
        self._frate = int(self._decoder.config["frate"])
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """Float32 mono 16 kHz samples in [-1, 1] to a Transcript."""
        from ..audio.vad import speech_regions

        found: list[tuple[str, float, float, float]] = []
        step = MAX_UTTERANCE_S * SAMPLE_RATE
        for first, last in speech_regions(samples):
            for piece in range(first, last, step):
                pcm = (np.clip(samples[piece : min(last, piece + step)], -1.0, 1.0) * 32767.0).astype(np.int16)
                offset = piece / SAMPLE_RATE
                with self._lock:
                    d = self._decoder
                    d.start_utt()
                    d.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
                    d.end_utt()
                    found.extend(
                        (
                            seg.word,
                            offset + seg.start_frame / self._frate,
                            offset + (seg.end_frame + 1) / self._frate,
                            seg.prob,
                        )
                        for seg in d.seg()
                    )
        words: list[tuple[Word, float]] = []
        for token, start, end, prob in found:
            if not _is_word(token):
                continue
            word = ALTERNATE.sub("", token)
            words.append((Word(word, round(start, 3), round(end, 3)), float(prob)))
        segments: list[Segment] = []
        group: list[tuple[Word, float]] = []
        for item in words:
            if group and item[0].start - group[-1][0].end >= PAUSE_S:
                segments.append(_segment(group))
                group = []
            group.append(item)
        if group:
            segments.append(_segment(group))
        text = " ".join(w.word for w, _ in words)
        return Transcript(text=text, segments=segments, language="en", duration=len(samples) / SAMPLE_RATE)


def _segment(group: list[tuple[Word, float]]) -> Segment:
    words = [w for w, _ in group]
    logprob = sum(math.log(min(1.0, max(p, 1e-10))) for _, p in group) / len(group)
    return Segment(words[0].start, words[-1].end, " ".join(w.word for w in words), words, avg_logprob=logprob)


_shared: PocketSphinxRecognizer | None = None
_guard = threading.Lock()


def recognizer() -> PocketSphinxRecognizer:
    """The process's one stand-in recognizer, built on first use."""
    global _shared
    with _guard:
        if _shared is None:
            _shared = PocketSphinxRecognizer()
        return _shared
