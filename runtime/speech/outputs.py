"""Workers AI's output shapes for speech, made from one Transcript: `whisper` (also whisper-tiny-en) and
`whisper-large-v3-turbo` (schemas.py has their JSON Schemas), and the WebVTT text both carry."""

from __future__ import annotations

from typing import Any

from .transcript import Segment, Transcript, Word

TIME_DIGITS = 3  # seconds in the JSON are rounded to milliseconds, as the WebVTT cues are


def vtt_time(seconds: float) -> str:
    """WebVTT's `hh:mm:ss.ttt`."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def vtt(cues: list[tuple[float, float, str]]) -> str:
    """A WebVTT document with one cue per (start, end, text)."""
    parts = ["WEBVTT\n"]
    for start, end, text in cues:
        parts.append(f"\n{vtt_time(start)} --> {vtt_time(end)}\n{text.strip()}\n")
    return "".join(parts)


def _word(w: Word) -> dict[str, Any]:
    return {"word": w.word, "start": round(w.start, TIME_DIGITS), "end": round(w.end, TIME_DIGITS)}


def _segment(s: Segment) -> dict[str, Any]:
    return {
        "start": round(s.start, TIME_DIGITS),
        "end": round(s.end, TIME_DIGITS),
        "text": s.text.strip(),
        "temperature": s.temperature,
        "avg_logprob": s.avg_logprob,
        "compression_ratio": s.compression_ratio,
        "no_speech_prob": s.no_speech_prob,
        "words": [_word(w) for w in s.words],
    }


def whisper_output(t: Transcript) -> dict[str, Any]:
    """`@cf/openai/whisper` and `whisper-tiny-en`: text, word count, words with times, WebVTT with a cue a word."""
    words = t.words
    return {
        "text": t.text.strip(),
        "word_count": len(words),
        "words": [_word(w) for w in words],
        "vtt": vtt([(w.start, w.end, w.word) for w in words]),
    }


def turbo_output(t: Transcript) -> dict[str, Any]:
    """`@cf/openai/whisper-large-v3-turbo`: what was heard, the text, segments with their words, WebVTT by segment."""
    info: dict[str, Any] = {
        "language": t.language,
        "language_probability": round(t.language_probability, 6),
        "duration": round(t.duration, TIME_DIGITS),
        "duration_after_vad": round(t.duration if t.duration_after_vad is None else t.duration_after_vad, TIME_DIGITS),
    }
    return {
        "transcription_info": info,
        "text": t.text.strip(),
        "word_count": len(t.words),
        "segments": [_segment(s) for s in t.segments],
        "vtt": vtt([(s.start, s.end, s.text) for s in t.segments]),
    }


SHAPES = {"whisper": whisper_output, "whisper-large-v3-turbo": turbo_output}


def huggingface_output(t: Transcript, timestamps: bool | str) -> dict[str, Any]:
    """The Hugging Face Inference API's shape: `{"text"}`, with `chunks` of segments (timestamps=True) or of words
    (timestamps="word"), each `{"text", "timestamp": [start, end]}`, as the ASR pipeline returns them."""
    out: dict[str, Any] = {"text": t.text}
    if timestamps == "word":
        out["chunks"] = [{"text": w.word, "timestamp": [round(w.start, 2), round(w.end, 2)]} for w in t.words]
    elif timestamps:
        out["chunks"] = [{"text": s.text, "timestamp": [round(s.start, 2), round(s.end, 2)]} for s in t.segments]
    return out
