"""Word timings from Whisper's cross-attentions (transformers' `_extract_token_timestamps`): the alignment heads'
weights normalised over the tokens, median-filtered, averaged over the heads and aligned to the audio frames by
dynamic time warping."""

from __future__ import annotations

import numpy as np

from .config import TIME_PRECISION


def token_times(
    rows: list[list[np.ndarray]],
    alignment_heads: list[tuple[int, int]],
    layers: int,
    begin: int,
    length: int,
    num_frames: int | None,
    median_width: int,
) -> np.ndarray:
    """A time for every token of the sequence (prompt ones 0), from the alignment heads' cross-attentions."""
    times = np.zeros(length, dtype=np.float64)
    # rows[0] holds the prompt's rows; each later step one row: the rows of the generated tokens but the last
    per_layer = [np.concatenate([step[layer] for step in rows], axis=1) for layer in range(layers)]
    weights = np.stack([per_layer[layer][head] for layer, head in alignment_heads])  # (heads, tokens, frames)
    if num_frames is not None:
        weights = weights[..., : max(0, num_frames) // 2]
    weights = weights[:, begin:, :].astype(np.float32)
    if weights.shape[1] == 0:
        return times
    with np.errstate(invalid="ignore", divide="ignore"):
        std = weights.std(axis=-2, keepdims=True)
        mean = weights.mean(axis=-2, keepdims=True)
        weights = (weights - mean) / std
    weights = median_filter(weights, median_width)
    matrix = weights.mean(axis=0)
    text_idx, time_idx = dtw(-matrix.astype(np.float64))
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    jump_times = time_idx[jumps] * TIME_PRECISION
    filled = np.concatenate([jump_times, jump_times[-1:]])
    times[begin : begin + len(filled)] = filled[: length - begin]
    return times.astype(np.float32).astype(np.float64)


def median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """A median over `width` frames along the last axis, the edges reflected (transformers' `_median_filter`)."""
    pad = width // 2
    if width <= 1 or x.shape[-1] <= pad:
        return x
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    return np.sort(windows, axis=-1)[..., pad]


def dtw(cost_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic time warping of tokens (rows) onto audio frames (columns); the path as (token, frame) indices.
    Ties resolve as transformers' `_dynamic_time_warping` resolves them; costs accumulate in float32 as there."""
    n, m = cost_matrix.shape
    cost = np.full((n + 1, m + 1), np.inf, dtype=np.float32)
    trace = np.full((n + 1, m + 1), -1, dtype=np.int8)
    cost[0, 0] = 0
    matrix = cost_matrix.astype(np.float32)
    for j in range(1, m + 1):
        prev = cost[:, j - 1]
        col = cost[:, j]
        tr = trace[:, j]
        for i in range(1, n + 1):
            c0, c1, c2 = prev[i - 1], col[i - 1], prev[i]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            col[i] = matrix[i - 1, j - 1] + c
            tr[i] = t
    trace[0, :] = 2
    trace[:, 0] = 1
    i, j = n, m
    text: list[int] = []
    frames: list[int] = []
    while i > 0 or j > 0:
        text.append(i - 1)
        frames.append(j - 1)
        step = trace[i, j]
        if step == 0:
            i -= 1
            j -= 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    return np.array(text[::-1]), np.array(frames[::-1])
