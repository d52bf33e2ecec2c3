"""runtime/inference/decoding.py on hand-made logits and step functions: the processors, the stopping rules, the
loop and the key-value cache bookkeeping; and Whisper's timestamp rules composed with them."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.inference.decoding import (
    MaxLength,
    MaxNewTokens,
    StopTokens,
    SuppressAtBegin,
    SuppressTokens,
    decode,
    empty_past,
    greedy,
    log_softmax,
    logsumexp,
    next_past,
    process,
    softmax,
)
from runtime.speech.whisper.timestamps import TimestampRules

NEG = -np.inf
VOCAB = 6
EOS = 5


def table_step(table: dict[int, list[float]], calls: list):
    """A step function whose next-token logits depend only on the last id fed; the cache counts the steps."""

    def step(ids, past):
        calls.append((list(ids), None if past is None else dict(past)))
        rows = np.array([table[i] for i in ids], dtype=np.float32)
        return rows, {"past_key_values.0.key": np.array([0 if past is None else past["past_key_values.0.key"][0] + 1])}

    return step


def test_suppress_tokens_and_suppress_at_begin():
    scores = np.arange(VOCAB, dtype=np.float32)
    out = process([SuppressTokens.of([1, 4])], scores, [0], 1)
    assert out.tolist() == [0, NEG, 2, 3, NEG, 5]
    assert scores.tolist() == [0, 1, 2, 3, 4, 5]  # the caller's array is untouched
    at_begin = SuppressAtBegin.of([5])
    assert process([at_begin], scores, [0, 3], 2).tolist() == [0, 1, 2, 3, 4, NEG]
    assert process([at_begin], scores, [0, 3, 2], 2).tolist() == [0, 1, 2, 3, 4, 5]


def test_process_applies_the_processors_in_order_on_float32():
    seen = []

    def record(scores, ids, begin):
        seen.append(scores.copy())
        return scores

    out = process([SuppressTokens.of([2]), record], np.ones(4, dtype=np.float64), [0], 1)
    assert out.dtype == np.float32 and seen[0].tolist() == [1, 1, NEG, 1]


def test_greedy_picks_the_first_of_equal_maxima():
    assert greedy(np.array([0.0, 3.0, 1.0, 3.0])) == 1
    assert greedy(np.array([NEG, NEG, 0.5])) == 2


def test_stopping_rules():
    assert StopTokens(frozenset({EOS}))([0, 1, EOS], 1) and not StopTokens(frozenset({EOS}))([0, EOS, 1], 1)
    assert MaxLength(3)([0, 1, 2], 1) and not MaxLength(4)([0, 1, 2], 1)
    assert MaxNewTokens(2)([0, 1, 2], 1) and not MaxNewTokens(2)([0, 1, 2], 2)


def test_decode_feeds_the_prompt_then_one_token_at_a_time_with_the_cache_until_the_stop_token():
    table = {
        0: [0, 0, 9, 0, 0, 0],  # after 0: 2
        1: [0, 0, 0, 0, 0, 0],
        2: [0, 0, 0, 5, 0, 0],  # after 2: 3
        3: [0, 0, 0, 0, 0, 7],  # after 3: the end
        4: [0, 0, 0, 0, 0, 0],
    }
    calls: list = []
    out = decode(table_step(table, calls), [1, 0], [], [StopTokens(frozenset({EOS})), MaxLength(50)])
    assert out.ids == [1, 0, 2, 3, EOS] and out.generated == [2, 3, EOS] and out.begin == 2
    assert [ids for ids, _ in calls] == [[1, 0], [2], [3]]
    assert calls[0][1] is None and [p["past_key_values.0.key"][0] for _, p in calls[1:]] == [0, 1]
    assert out.prompt_logits.shape == (2, VOCAB) and out.prompt_logits[1].tolist() == table[0]
    want = [log_softmax(np.array(table[i], dtype=np.float64))[t] for i, t in ((0, 2), (2, 3), (3, EOS))]
    assert out.logprobs == want
    assert out.logprob_sum == want[0] + want[1] + want[2]


def test_decode_stops_at_the_length_and_generates_at_least_one_token():
    table = {i: [0, 0, 0, 0, 1, 0] for i in range(VOCAB)}  # always 4, never the end
    stop = [StopTokens(frozenset({EOS})), MaxLength(4)]
    assert decode(table_step(table, []), [0, 1], [], stop).generated == [4, 4]
    assert decode(table_step(table, []), [0, 1, 2, 3, 2], [], stop).generated == [4]
    assert decode(table_step(table, []), [0], [], [MaxNewTokens(3)]).generated == [4, 4, 4]


def test_decode_chooses_from_the_processed_scores():
    table = {i: [0, 0, 0, 0, 1, 0.5] for i in range(VOCAB)}  # 4, then the end once 4 is suppressed
    processors = [SuppressAtBegin.of([EOS]), SuppressTokens.of([4])]
    out = decode(table_step(table, []), [0], processors, [StopTokens(frozenset({EOS})), MaxLength(10)])
    assert out.generated == [0, EOS]  # the first step may not end, and 4 never comes
    assert out.logprobs[0] == pytest.approx(float(np.log(1 / 4)))  # 0, 1, 2, 3 equally likely; 4 and 5 gone


def test_next_past_takes_the_presents_and_keeps_what_is_fixed_or_missing():
    old = {name: np.array([0]) for name in ("past_key_values.0.key", "past_key_values.0.encoder.key")}
    presents = {
        "present.0.key": np.array([1]),
        "present.0.encoder.key": np.array([2]),
        "present.1.key": np.array([3]),
    }
    names = ["input_ids", "past_key_values.0.key", "past_key_values.0.encoder.key", "past_key_values.1.key"]
    moved = next_past(names, presents, old)
    assert {k: v.tolist() for k, v in moved.items()} == {
        "past_key_values.0.key": [1],
        "past_key_values.0.encoder.key": [2],
        "past_key_values.1.key": [3],
    }
    kept = next_past(names, presents, old, fixed=lambda name: ".encoder." in name)
    assert kept["past_key_values.0.encoder.key"].tolist() == [0] and kept["past_key_values.0.key"].tolist() == [1]
    no_presents = next_past(names + ["past_key_values.2.key"], {}, old)
    assert set(no_presents) == set(old) and all(no_presents[k] is old[k] for k in old)


def test_empty_past_has_no_positions_and_the_inputs_dtype():
    class Arg:
        def __init__(self, type_: str) -> None:
            self.type = type_

    inputs = {"input_ids": Arg("tensor(int64)"), "past_key_values.0.key": Arg("tensor(float16)")}
    inputs["past_key_values.0.value"] = Arg("tensor(float)")
    past = empty_past(inputs, heads=3, head_dim=8)
    assert sorted(past) == ["past_key_values.0.key", "past_key_values.0.value"]
    assert past["past_key_values.0.key"].shape == (1, 3, 0, 8) and past["past_key_values.0.key"].dtype == np.float16
    assert past["past_key_values.0.value"].dtype == np.float32


def test_the_numerics_ignore_suppressed_scores():
    x = np.array([NEG, 0.0, np.log(3.0)])
    assert np.exp(log_softmax(x)).tolist() == pytest.approx([0, 0.25, 0.75])
    assert logsumexp(x) == pytest.approx(np.log(4.0)) and logsumexp(np.array([NEG, NEG])) == NEG
    assert softmax(np.array([0.0, np.log(3.0)])).tolist() == pytest.approx([0.25, 0.75])


# -- a model's own processor in the same list: Whisper's timestamp rules (tokens 0-2 text, 3 eos, 4 notimestamps,
# 5.. timestamps) --

RULES = TimestampRules(eos=3, no_timestamps=4, timestamp_begin=5, max_initial=1)


def test_whisper_timestamps_begin_the_text_come_in_pairs_and_never_go_back():
    flat = np.zeros(9, dtype=np.float32)
    first = process([RULES], flat, [0], 1)
    assert np.isfinite(first).tolist() == [False] * 5 + [True, True, False, False]  # <|0.00|> or <|0.02|> only
    after_text = process([RULES], flat, [0, 7, 1], 1)  # text after <|0.04|>: the next timestamp is a later one
    assert np.isfinite(after_text[5:]).tolist() == [False, False, False, True] and after_text[4] == NEG
    end_likely = np.array([0, 0, 0, 2, 0, 0, 0, 0, 0], dtype=np.float32)
    after_one = process([RULES], end_likely, [0, 6, 1, 7], 1)  # a lone timestamp: its pair (not earlier) or the end
    assert np.isfinite(after_one).tolist() == [False, False, False, True, False, False, False, True, True]
    after_pair = process([RULES], flat, [0, 6, 1, 7, 7], 1)  # after a pair: text, no timestamp
    assert np.isfinite(after_pair[5:]).tolist() == [False] * 4


def test_whisper_timestamps_win_when_together_likelier_than_the_best_text_token():
    scores = np.array([1.0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    out = process([SuppressTokens.of([2]), RULES], scores, [0, 6, 1], 1)
    assert greedy(out) >= 5 and np.isinf(out[:5]).all()
    text_wins = np.array([3.0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    assert greedy(process([RULES], text_wins, [0, 6, 1], 1)) == 0
