"""Whisper's timestamp rules, a logits processor (transformers' `WhisperTimeStampLogitsProcessor`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...inference.decoding import NEG_INF, log_softmax, logsumexp


@dataclass(frozen=True)
class TimestampRules:
    """Timestamps come in pairs and never decrease, `<|notimestamps|>` never comes, the first token is a timestamp
    at most `max_initial` steps in, and a timestamp comes whenever the timestamps together are likelier than the
    best text token. Every token from `timestamp_begin` on is a timestamp; the special tokens start at `eos`."""

    eos: int
    no_timestamps: int
    timestamp_begin: int
    max_initial: int | None

    def __call__(self, scores: np.ndarray, ids: Sequence[int], begin: int) -> np.ndarray:
        tb = self.timestamp_begin
        scores[self.no_timestamps] = NEG_INF
        seq = ids[begin:]
        last_was = len(seq) >= 1 and seq[-1] >= tb
        penultimate_was = len(seq) < 2 or seq[-2] >= tb
        if last_was:
            if penultimate_was:
                scores[tb:] = NEG_INF
            else:
                scores[: self.eos] = NEG_INF
        last_stamp = next((t for t in reversed(seq) if t >= tb), None)
        if last_stamp is not None:
            floor = last_stamp if (last_was and not penultimate_was) else last_stamp + 1
            scores[tb:floor] = NEG_INF
        if len(ids) == begin:
            scores[:tb] = NEG_INF
            if self.max_initial is not None:
                scores[tb + int(self.max_initial) + 1 :] = NEG_INF
        logprobs = log_softmax(scores.astype(np.float32))
        if logsumexp(logprobs[tb:]) > logprobs[:tb].max():
            scores[:tb] = NEG_INF
        return scores
