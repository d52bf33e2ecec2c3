"""Long recordings in 30 s windows: what one window decoded to, and its tokens split into segments at their
timestamp pairs (transformers' `_retrieve_segment`), which says where the next window starts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import FEATURE_PRECISION, INPUT_STRIDE, TIME_PRECISION


@dataclass
class Window:
    """What one 30 s window decoded to: its tokens after the prompt (without the final end token), a timestamp for
    each (when words were asked for), the per-token log-probabilities and the no-speech probability."""

    tokens: list[int]
    token_times: np.ndarray | None
    avg_logprob: float
    no_speech_prob: float


@dataclass
class Decoded:
    """The pipeline's view of a whole recording: every segment's tokens in order (timestamps included), one time
    per token (seconds from the start; only when words were asked for) and the window each token came from."""

    tokens: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    owners: list[Window] = field(default_factory=list)  # the window each token was decoded in


def split_window(w: Window, offset: float, seek_frames: int, decoded: Decoded, timestamp_begin: int) -> int:
    """The window's segments added to `decoded` (`offset`: the window's start in seconds); the frames to seek."""
    tb = timestamp_begin
    seq = w.tokens
    is_stamp = [t >= tb for t in seq]
    single_ending = is_stamp[-2:] == [False, True]
    cuts = [i + 1 for i in range(len(is_stamp) - 1) if is_stamp[i] and is_stamp[i + 1]]
    times = w.token_times

    def add(start: float, end: float, lo: int, hi: int) -> None:  # noqa: ARG001 - the pipeline re-reads times
        decoded.tokens += seq[lo:hi]
        decoded.owners += [w] * (hi - lo)
        if times is not None:
            decoded.times += [float(t) + offset for t in times[lo:hi]]

    if cuts:
        if single_ending:
            cuts.append(len(seq))
        else:
            cuts[-1] += 1
        last = 0
        for i, cut in enumerate(cuts):
            piece = seq[last:cut]
            end_at = -1 if (i < len(cuts) - 1 or single_ending) else -2
            start = offset + (piece[0] - tb) * TIME_PRECISION
            end = offset + (piece[end_at] - tb) * TIME_PRECISION
            add(start, end, last, cut)
            last = cut
        if single_ending:
            return seek_frames
        return (seq[last - 2] - tb) * INPUT_STRIDE
    stamps = [i for i, s in enumerate(is_stamp) if s]
    last_pos = float(int(seek_frames * FEATURE_PRECISION / TIME_PRECISION))
    if stamps and seq[stamps[-1]] != tb:
        last_pos = float(seq[stamps[-1]] - tb)
    add(offset, offset + last_pos * TIME_PRECISION, 0, len(seq))
    return seek_frames
