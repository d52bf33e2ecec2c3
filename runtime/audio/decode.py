"""Audio bytes of any common container decoded once to 16 kHz mono float32, with PyAV (FFmpeg, bundled in its
wheel): WAV (PCM 8/16/24/32-bit, float), MP3, FLAC, OGG (Vorbis, Opus), WebM/Matroska (Opus, Vorbis), M4A/MP4
(AAC, ALAC) and anything else FFmpeg reads. Only the first audio stream is decoded; the resampler's output frames
are joined into one numpy array (no per-sample Python).

Limits, each refused with `AudioError` (5006): audio longer than `max_seconds` (`[emulator] max_audio_seconds`,
30 minutes by default; checked against the container's declared duration before decoding and counted while
decoding, so hours of audio are never decoded just to be refused), bytes FFmpeg cannot read as audio, a header
over garbage (what decodes is loud white noise: arbitrary bytes read as samples), and recordings with no samples. The decoded size is bounded by the duration limit: 30 minutes are
28.8 million samples, 115 MB of float32.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..errors import AudioError

SAMPLE_RATE = 16000
DEFAULT_MAX_SECONDS = 1800.0


@dataclass
class Audio:
    samples: np.ndarray  # float32, mono, 16 kHz, values in [-1, 1]
    container: str
    codec: str
    source_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def _quiet() -> None:
    import av.logging

    av.logging.set_level(av.logging.PANIC)


def _too_long(seconds: float, limit: float) -> AudioError:
    return AudioError(f"the audio is {seconds:.1f} s long; the limit is {limit:g} s")


def decode_audio(data: bytes, max_seconds: float = DEFAULT_MAX_SECONDS) -> Audio:
    """The recording in `data` as 16 kHz mono float32; AudioError naming what is wrong with it."""
    if not data:
        raise AudioError("the audio is empty")
    import av

    _quiet()
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except Exception:  # noqa: BLE001 - FFmpeg's errors for unreadable input vary by format
        raise AudioError("the data is not audio in a format this emulator reads (WAV, MP3, FLAC, OGG, WebM, M4A)")
    try:
        return _decode(container, max_seconds)
    except AudioError:
        raise
    except MemoryError:
        raise AudioError("the audio is too large to decode") from None
    except Exception as e:  # noqa: BLE001 - a stream that fails midway: a header over garbage, a truncation
        raise AudioError(f"the audio cannot be decoded ({type(e).__name__}: {str(e)[:120]})") from None
    finally:
        container.close()


def _decode(container: object, max_seconds: float) -> Audio:
    import av

    streams = [s for s in container.streams if s.type == "audio"]  # type: ignore[attr-defined]
    if not streams:
        raise AudioError("the data is not audio: it has no audio stream")
    stream = streams[0]
    declared = _declared_seconds(container, stream)
    if declared is not None and declared > max_seconds * 1.01 + 1:
        raise _too_long(declared, max_seconds)
    codec = stream.codec_context.name or "unknown"
    rate = int(stream.codec_context.sample_rate or 0)
    channels = int(getattr(stream.codec_context, "channels", 0) or 0)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    limit = int(max_seconds * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    total = 0
    for frame in container.decode(stream):  # type: ignore[attr-defined]
        for out in resampler.resample(frame):
            chunk = out.to_ndarray().reshape(-1)
            parts.append(chunk)
            total += chunk.size
        if total > limit + SAMPLE_RATE:
            raise _too_long(total / SAMPLE_RATE, max_seconds)
    for out in resampler.resample(None):
        chunk = out.to_ndarray().reshape(-1)
        parts.append(chunk)
        total += chunk.size
    if total > limit:
        raise _too_long(total / SAMPLE_RATE, max_seconds)
    if total == 0:
        raise AudioError("the audio has no samples")
    samples = np.concatenate(parts) if len(parts) > 1 else parts[0]
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if not np.isfinite(samples).all():
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    if _is_random_bytes(samples):
        raise AudioError("the audio is random noise at full scale: bytes that are not sound under an audio header")
    name = getattr(container, "format", None)
    return Audio(samples, getattr(name, "name", "unknown"), codec, rate, channels)


def _declared_seconds(container: object, stream: object) -> float | None:
    """What the container says the audio lasts, when it says (None for streams of unknown length).

    A WAV written to a pipe (espeak-ng --stdout, many recorders) declares the largest size a header can hold; such
    a declaration past the bytes actually present says nothing, so the count while decoding decides instead."""
    duration = getattr(stream, "duration", None)
    base = getattr(stream, "time_base", None)
    seconds = float(duration * base) if duration is not None and base is not None else None
    if seconds is None:
        whole = getattr(container, "duration", None)
        seconds = whole / 1_000_000 if whole else None
    if seconds is None:
        return None
    size = getattr(container, "size", None)
    bit_rate = getattr(container, "bit_rate", None) or 0
    if size and bit_rate and seconds * bit_rate / 8 > 2 * size:  # declares far more than the bytes can hold
        return None
    return seconds


def _is_random_bytes(samples: np.ndarray) -> bool:
    """Whether the decoded signal looks like arbitrary bytes read as PCM: loud (RMS over a third of full scale;
    uniform random samples have 0.58) and spectrally flat (white), which no recording of sound is."""
    head = samples[: SAMPLE_RATE * 10]
    rms = float(np.sqrt(np.mean(np.square(head, dtype=np.float64))))
    if rms < 0.33 or head.size < 512:
        return False
    frames = head[: head.size // 512 * 512].reshape(-1, 512)[:64]
    power = np.abs(np.fft.rfft(frames * np.hanning(512), axis=1)[:, 1:]) ** 2 + 1e-20
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return bool(np.median(flatness) > 0.3)
