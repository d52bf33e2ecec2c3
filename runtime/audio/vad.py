"""Voice activity detection for Whisper turbo's `vad_filter`: long silent stretches are cut before recognition and
the transcript's times mapped back to the original recording.

Energy-based (frame RMS against a threshold relative to the recording's loud frames), not the Silero network
Cloudflare's faster-whisper uses: it removes silence and steady background hum, not music or chatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decode import SAMPLE_RATE

FRAME_S = 0.03
MIN_SILENCE_S = 2.0  # only silences at least this long are cut (as faster-whisper's default min_silence_duration)
PAD_S = 0.4  # speech is kept with this much of its surroundings on each side
FLOOR = 0.01  # RMS under about -40 dBFS is silence, whatever the recording


@dataclass
class Kept:
    """The speech stretches of a recording: `samples` is them joined; `regions` their (start, end) samples."""

    samples: np.ndarray
    regions: list[tuple[int, int]]

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def original_time(self, t: float) -> float:
        """A time in the joined speech, as a time in the original recording."""
        offset = 0.0
        for start, end in self.regions:
            length = (end - start) / SAMPLE_RATE
            if t <= offset + length:
                return start / SAMPLE_RATE + (t - offset)
            offset += length
        return self.regions[-1][1] / SAMPLE_RATE if self.regions else t


def speech_regions(samples: np.ndarray) -> list[tuple[int, int]]:
    """The (start, end) sample ranges that hold sound, silences shorter than MIN_SILENCE_S bridged."""
    frame = int(FRAME_S * SAMPLE_RATE)
    n = len(samples) // frame
    if n == 0:
        return [(0, len(samples))] if len(samples) else []
    frames = samples[: n * frame].reshape(n, frame)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    threshold = max(FLOOR, 0.05 * float(np.percentile(rms, 95)))
    loud = np.flatnonzero(rms > threshold)
    if loud.size == 0:
        return []
    gap = int(MIN_SILENCE_S / FRAME_S)
    breaks = np.flatnonzero(np.diff(loud) > gap)
    starts = np.concatenate(([loud[0]], loud[breaks + 1]))
    ends = np.concatenate((loud[breaks], [loud[-1]])) + 1
    pad = int(PAD_S * SAMPLE_RATE)
    regions: list[tuple[int, int]] = []
    for s, e in zip(starts, ends):
        a, b = max(0, int(s) * frame - pad), min(len(samples), int(e) * frame + pad)
        if regions and a <= regions[-1][1]:
            regions[-1] = (regions[-1][0], b)
        else:
            regions.append((a, b))
    return regions


def keep_speech(samples: np.ndarray) -> Kept:
    regions = speech_regions(samples)
    if not regions:
        return Kept(samples[:0], [])
    return Kept(np.concatenate([samples[a:b] for a, b in regions]), regions)
