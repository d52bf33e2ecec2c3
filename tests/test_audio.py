"""Audio decoding (runtime/audio/decode.py) of each container the speech models take, every bad input refused
with a coded error, and the log-mel features equal to transformers' WhisperFeatureExtractor."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest
from support import FIXTURES

from runtime.audio.decode import SAMPLE_RATE, decode_audio
from runtime.audio.features import MelExtractor
from runtime.errors import AudioError

EXPECTED = FIXTURES / "expected" / "whisper_features.npz"


def encode(left: np.ndarray, right: np.ndarray | None, rate: int, fmt: str, codec: str, sample_fmt: str) -> bytes:
    """A file of `fmt` made with PyAV's encoders (float samples in [-1, 1])."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo" if right is not None else "mono"
        planes = np.stack([left, right]) if right is not None else left[None, :]
        frame_size = stream.codec_context.frame_size or 1024
        packed = not sample_fmt.endswith("p")
        for start in range(0, planes.shape[1], frame_size):
            chunk = planes[:, start : start + frame_size]
            if sample_fmt.startswith("s16"):
                data = (chunk * 32767).astype(np.int16)
            elif sample_fmt.startswith("u8"):
                data = (chunk * 127 + 128).astype(np.uint8)
            elif sample_fmt.startswith("s32"):
                data = (chunk * 2**31 * 0.999).astype(np.int32)
            else:
                data = chunk.astype(np.float32)
            if packed:
                data = data.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=sample_fmt, layout=stream.layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def tone(rate: int, seconds: float = 1.5, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


FORMATS = [  # (container, codec, sample format, rate, stereo)
    ("wav", "pcm_s16le", "s16", 44100, True),
    ("wav", "pcm_f32le", "flt", 16000, False),
    ("wav", "pcm_u8", "u8", 8000, False),
    ("wav", "pcm_s32le", "s32", 48000, False),
    ("mp3", "libmp3lame", "s16p", 44100, True),
    ("flac", "flac", "s16", 22050, False),
    ("ogg", "libvorbis", "fltp", 44100, True),
    ("ogg", "libopus", "s16", 48000, False),
    ("webm", "libopus", "s16", 48000, True),
    ("ipod", "aac", "fltp", 44100, True),  # .m4a
]


@pytest.mark.parametrize("fmt,codec,sample_fmt,rate,stereo", FORMATS, ids=[f"{f[0]}-{f[1]}" for f in FORMATS])
def test_each_container_decodes_to_16_khz_mono_float32_of_the_same_signal(fmt, codec, sample_fmt, rate, stereo):
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder here")
    left = tone(rate)
    data = encode(left, tone(rate, hz=440.0) * 0.5 if stereo else None, rate, fmt, codec, sample_fmt)
    audio = decode_audio(data)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.source_rate == rate and audio.source_channels == (2 if stereo else 1)
    assert abs(audio.duration_s - 1.5) < 0.1  # codecs pad a frame or two
    assert abs(dominant_hz(audio.samples) - 440.0) < 3.0
    rms = float(np.sqrt(np.mean(audio.samples[4000:20000] ** 2)))
    amplitude = (0.5 + 0.25) / np.sqrt(2) if stereo else 0.5  # FFmpeg downmixes stereo as (L + R) / sqrt(2)
    expected = amplitude / np.sqrt(2)
    assert abs(rms - expected) < 0.06, (rms, expected)


def pcm_wav(payload: bytes, rate: int = 16000, declared: int | None = None) -> bytes:
    """A canonical 44-byte WAV header (16-bit mono PCM) over `payload`, declaring `declared` data bytes."""
    size = len(payload) if declared is None else declared
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + fmt + b"data" + struct.pack("<I", size) + payload


def test_a_wav_written_to_a_pipe_with_an_open_ended_header_decodes_whole():
    pcm = (tone(22050, 2.0) * 32767).astype("<i2").tobytes()
    data = pcm_wav(pcm, 22050, declared=0x7FFFF000)  # what espeak-ng --stdout and other streamers write
    assert abs(decode_audio(data).duration_s - 2.0) < 0.01


def wav_header_over(payload: bytes) -> bytes:
    return pcm_wav(payload)


@pytest.mark.parametrize(
    "data,fragment",
    [
        (b"", "empty"),
        (np.random.default_rng(7).bytes(5000), "not audio"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "no audio stream"),
        (b"These words are text, not a recording." * 20, "not audio"),
        (wav_header_over(np.random.default_rng(0).bytes(64_000)), "random noise"),
        (wav_header_over(b""), "no samples"),
    ],
    ids=["empty", "random-bytes", "png", "text", "wav-header-over-garbage", "zero-samples"],
)
def test_bad_audio_is_refused_with_5006(data, fragment):
    with pytest.raises(AudioError) as caught:
        decode_audio(data)
    assert caught.value.code == 5006 and fragment in caught.value.message


def test_an_hour_of_silence_is_refused_for_its_length_before_it_is_decoded():
    silence = np.zeros(8000 * 60 * 60, dtype=np.float32)
    data = encode(silence, None, 8000, "flac", "flac", "s16")  # 60 minutes: about 0.6 MB of FLAC
    with pytest.raises(AudioError) as caught:
        decode_audio(data)
    assert "3600.0 s long; the limit is 1800 s" in caught.value.message


def test_the_duration_limit_is_a_parameter():
    data = encode(tone(16000, 5.0), None, 16000, "wav", "pcm_s16le", "s16")
    assert abs(decode_audio(data, max_seconds=6).duration_s - 5.0) < 0.01
    with pytest.raises(AudioError, match="the limit is 4 s"):
        decode_audio(data, max_seconds=4)


def signal(seed: int, length: int) -> np.ndarray:
    """The reference builder's input (tests/fixtures/build_audio_reference.py)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 16000
    return (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.normal(size=length)).astype(np.float32)


def test_log_mel_features_equal_whisper_feature_extractor():
    ref = np.load(EXPECTED)
    checked = 0
    for name, (seed, length) in zip(ref["names"], ref["cases"]):
        for n_mels in (80, 128):
            key = f"{name}_{n_mels}"
            if key not in ref:
                continue
            got = MelExtractor.from_config({"feature_size": n_mels}).features(signal(int(seed), int(length)))
            assert got.shape == ref[key].shape == (n_mels, 3000)
            assert float(np.abs(got - ref[key]).max()) < 1e-4, key
            checked += 1
    assert checked == 5
