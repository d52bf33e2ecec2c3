"""A recording's decoded token stream read into the transcript's text and segments, with their words, as the
pipeline's `_decode_asr` reads it."""

from __future__ import annotations

import zlib

from ..transcript import Segment, Word
from .config import TIME_PRECISION
from .segments import Decoded, Window
from .text import WhisperText


def chunks(
    decoded: Decoded, words: bool, duration: float, text_of: WhisperText, timestamp_begin: int, max_source: int
) -> tuple[str, list[Segment]]:
    """The text and its chunks: a chunk from one timestamp token to the next different one (times continued across
    windows as the pipeline continues them), each with its words, a word's span from the time of the token before
    its first to that of its last. `max_source`: the encoder frames of a window."""
    tb = timestamp_begin
    eos = text_of.eos
    tokens, times = decoded.tokens, decoded.times
    out: list[Segment] = []
    texts: list[str] = []
    start: float | None = None
    current: list[int] = []
    spans: list[tuple[float, float]] = []
    owner: Window | None = None
    cur_max = penultimate = previous_len = 0.0

    def close(end: float | None) -> None:
        text = text_of.decode(current)
        texts.append(text)
        found: list[Word] = []
        if words and times:
            for word, idx in zip(*text_of.words(current)):
                found.append(Word(word.strip(), spans[idx[0]][0], spans[idx[-1]][1]))
        elif current:
            found = spread(text, start or 0.0, end if end is not None else duration)
        w = owner or Window([], None, 0.0, 0.0)
        out.append(
            Segment(
                start=start or 0.0,
                end=end if end is not None else max([duration] + [x.end for x in found]),
                text=text,
                words=found,
                avg_logprob=w.avg_logprob,
                compression_ratio=compression_ratio(text),
                no_speech_prob=w.no_speech_prob,
            )
        )

    for i, token in enumerate(tokens):
        if eos <= token < tb:
            continue  # special tokens (a language, a task) carry no text
        if token >= tb:
            stamp = (token - tb) * TIME_PRECISION
            if stamp < cur_max:  # a new window: its timestamps start again from its own start
                single = i >= 2 and not (tokens[i - 1] >= tb and tokens[i - 2] >= tb)
                if single:
                    previous_len += TIME_PRECISION * max_source
                else:
                    cur_max = penultimate
                    previous_len += penultimate
            penultimate, cur_max = cur_max, stamp
            at = round(stamp + previous_len, 2)
            if start is None:
                start = at
            elif at != start:
                close(at)
                start, current, spans, owner = None, [], [], None
            continue
        current.append(token)
        owner = owner or decoded.owners[i]
        if words and times:
            spans.append((0.0 if i == 0 else round(times[i - 1], 2), round(times[i], 2)))
    if current:
        close(None)
    return "".join(texts), out


def spread(text: str, start: float, end: float) -> list[Word]:
    """Words over a segment's span in proportion to their length, for exports without cross-attentions."""
    parts = text.split()
    if not parts:
        return []
    total = sum(len(p) for p in parts)
    out, at = [], start
    for p in parts:
        span = (end - start) * len(p) / total
        out.append(Word(p, round(at, 2), round(at + span, 2)))
        at += span
    return out


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return round(len(data) / len(zlib.compress(data)), 6) if data else 0.0
