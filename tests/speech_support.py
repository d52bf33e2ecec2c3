"""Spoken test sentences: espeak-ng (Debian's package; .ci/run installs it) says them, offline.

SENTENCE is one the pocketsphinx stand-in hears word for word from espeak-ng's en-us+f3 voice at 160 words a
minute; tests still only ask that most of its words be heard (`words_heard`), as recognisers differ.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess

import av
import numpy as np
import pytest

SENTENCE = "i would like a cup of coffee"
SECOND = "one two three four five"
VOICE = "en-us+f3"
HAS_ESPEAK = shutil.which("espeak-ng") is not None
requires_espeak = pytest.mark.skipif(
    not HAS_ESPEAK, reason="Debian's espeak-ng is not installed (apt-get install espeak-ng); .ci/run installs it"
)


@functools.lru_cache(maxsize=32)
def speak(text: str, rate: int = 160, voice: str = VOICE) -> bytes:
    """WAV bytes (22.05 kHz, 16-bit mono) of espeak-ng saying `text`."""
    done = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "--stdout", text], capture_output=True, check=True, timeout=60
    )
    return done.stdout


def speech_samples(text: str, rate: int = 160, voice: str = VOICE) -> np.ndarray:
    """The spoken sentence as 16 kHz mono float32, decoded the way the emulator decodes it."""
    from runtime.audio.decode import decode_audio

    return decode_audio(speak(text, rate, voice)).samples


def wav_of(samples: np.ndarray, rate: int = 16000) -> bytes:
    """16-bit mono WAV bytes of float samples."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def words_heard(text: str, expected: str) -> float:
    """The share of the expected words found in order in `text` (1 - word edit distance / expected words)."""
    got = [w.strip(".,!?;:").lower() for w in text.split()]
    want = expected.lower().split()
    prev = list(range(len(got) + 1))
    for i, w in enumerate(want, 1):
        row = [i]
        for j, g in enumerate(got, 1):
            row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (w != g)))
        prev = row
    return max(0.0, 1 - prev[-1] / len(want))
