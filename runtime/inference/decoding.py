"""Token-by-token decoding with a key-value cache, for any decoder: the loop, logits processors, stopping rules
and the cache bookkeeping of ONNX exports (`past_key_values.*` inputs fed from the last step's `present.*` outputs).

A step function maps (ids to feed, the cache or None on the first step, by which a decoder + decoder_with_past
pair picks its graph) to (logits `(len(ids), vocab)`, the next cache); a logits processor maps (float32 scores
`(vocab,)`, the sequence, where generation began) to scores, changing them in place if it likes; a stopping rule
maps (the sequence with its new token, where generation began) to a bool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Past = dict[str, np.ndarray]  # the cache: past_key_values.* input name -> array
PAST_PREFIX = "past_key_values."
PRESENT_PREFIX = "present."
NEG_INF = np.float32(-np.inf)

Step = Callable[[Sequence[int], Past | None], tuple[np.ndarray, Past]]
Choose = Callable[[np.ndarray], int]


class LogitsProcessor(Protocol):
    def __call__(self, scores: np.ndarray, ids: Sequence[int], begin: int) -> np.ndarray: ...


class StoppingRule(Protocol):
    def __call__(self, ids: Sequence[int], begin: int) -> bool: ...


# -- logits processors --


@dataclass(frozen=True, eq=False)
class SuppressTokens:
    """These tokens are never chosen."""

    tokens: np.ndarray

    def __call__(self, scores: np.ndarray, ids: Sequence[int], begin: int) -> np.ndarray:
        scores[self.tokens] = NEG_INF
        return scores

    @classmethod
    def of(cls, tokens: Iterable[int]) -> SuppressTokens:
        return cls(np.array(list(tokens), dtype=np.int64))


@dataclass(frozen=True, eq=False)
class SuppressAtBegin:
    """These tokens are never the first generated one."""

    tokens: np.ndarray

    def __call__(self, scores: np.ndarray, ids: Sequence[int], begin: int) -> np.ndarray:
        if len(ids) == begin:
            scores[self.tokens] = NEG_INF
        return scores

    @classmethod
    def of(cls, tokens: Iterable[int]) -> SuppressAtBegin:
        return cls(np.array(list(tokens), dtype=np.int64))


def process(processors: Iterable[LogitsProcessor], scores: np.ndarray, ids: Sequence[int], begin: int) -> np.ndarray:
    """The scores after each processor in turn, on a float32 copy (the caller's array is left as it was)."""
    out = np.array(scores, dtype=np.float32)
    for processor in processors:
        out = processor(out, ids, begin)
    return out


# -- choosing and stopping --


def greedy(scores: np.ndarray) -> int:
    """The likeliest token (the first of equals)."""
    return int(np.argmax(scores))


@dataclass(frozen=True)
class StopTokens:
    """Stop after any of these tokens (an end-of-sequence token)."""

    tokens: frozenset[int]

    def __call__(self, ids: Sequence[int], begin: int) -> bool:
        return bool(ids) and ids[-1] in self.tokens


@dataclass(frozen=True)
class MaxLength:
    """Stop when the sequence, prompt included, is this long."""

    length: int

    def __call__(self, ids: Sequence[int], begin: int) -> bool:
        return len(ids) >= self.length


@dataclass(frozen=True)
class MaxNewTokens:
    """Stop when this many tokens have been generated."""

    count: int

    def __call__(self, ids: Sequence[int], begin: int) -> bool:
        return len(ids) - begin >= self.count


# -- the loop --


@dataclass
class Generation:
    """A decoded sequence: the prompt and the generated tokens (the one that stopped it included), each generated
    token's log-probability under the processed scores, and the first step's logits (one row per prompt id)."""

    ids: list[int]
    begin: int
    logprobs: list[float]
    prompt_logits: np.ndarray

    @property
    def generated(self) -> list[int]:
        return self.ids[self.begin :]

    @property
    def logprob_sum(self) -> float:
        total = 0.0  # added in order, as the loop generated them (not math.fsum, not sum's compensation)
        for value in self.logprobs:
            total += value
        return total


def decode(
    step: Step,
    prompt: Sequence[int],
    processors: Sequence[LogitsProcessor],
    stopping: Sequence[StoppingRule],
    choose: Choose = greedy,
) -> Generation:
    """Feed the prompt, then one token at a time: process the last row's scores, choose a token, append it, stop
    when a stopping rule says so, else step on it with the cache. At least one token is always generated."""
    ids = list(prompt)
    begin = len(ids)
    logits, past = step(ids, None)
    prompt_logits = logits
    logprobs: list[float] = []
    while True:
        scores = process(processors, logits[-1], ids, begin)
        token = choose(scores)
        logprobs.append(float(log_softmax(scores.astype(np.float64))[token]))
        ids.append(token)
        if any(rule(ids, begin) for rule in stopping):
            return Generation(ids, begin, logprobs, prompt_logits)
        logits, past = step([token], past)


# -- the cache of ONNX exports --


def empty_past(inputs: Mapping[str, Any], heads: int, head_dim: int) -> Past:
    """An empty cache (batch 1, no positions) for each `past_key_values.*` input, float16 where the input is."""
    past = {}
    for name, arg in inputs.items():
        if name.startswith(PAST_PREFIX):
            dtype = np.float16 if arg.type == "tensor(float16)" else np.float32
            past[name] = np.zeros((1, heads, 0, head_dim), dtype=dtype)
    return past


def next_past(
    names: Iterable[str],
    presents: Mapping[str, np.ndarray],
    past: Mapping[str, np.ndarray],
    fixed: Callable[[str], bool] = lambda name: False,
) -> Past:
    """The cache for the next step, for each `past_key_values.*` name of `names`: the step's `present.*` output of
    the same name, or the old entry where the step gave none or where `fixed(name)` (an entry that no longer
    changes, as a cross-attention cache after the first step)."""
    out = {}
    for name in names:
        if not name.startswith(PAST_PREFIX):
            continue
        present = presents.get(name.replace(PAST_PREFIX, PRESENT_PREFIX))
        if name in past and (present is None or fixed(name)):
            out[name] = past[name]
        elif present is not None:
            out[name] = present
    return out


# -- numerics --


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Log-probabilities, shifted by the largest finite score (so -inf scores stay -inf)."""
    finite = x[np.isfinite(x)]
    top = finite.max() if finite.size else 0.0
    shifted = x - top
    return shifted - np.log(np.exp(shifted).sum())


def logsumexp(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return float("-inf")
    top = finite.max()
    return float(top + np.log(np.exp(x - top).sum()))
