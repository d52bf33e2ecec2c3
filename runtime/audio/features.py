"""Whisper's input: the log-mel spectrogram of one 30 s window, computed in numpy as transformers'
`WhisperFeatureExtractor` computes it (checked against it in tests/test_audio.py).

A window is padded with zeros (or cut) to `n_samples`; a centred STFT (reflect padding, periodic Hann window of
`n_fft`, hop `hop_length`) gives the power spectrum, a Slaney-style mel filter bank (`feature_size` bands, 0 to
8 kHz, Slaney-normalised) maps it to mel bands; then log10 (floored at 1e-10), the last frame dropped, values
clamped to 8 below the window's maximum and scaled as (x + 4) / 4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

FRAMES_PER_BLOCK = 3001  # one 30 s window (and its extra frame) at a time


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """The Slaney mel scale: linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = 3.0 * hz / 200.0
    log_part = hz >= 1000.0
    mel = np.where(log_part, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * (27.0 / np.log(6.4)), mel)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = 200.0 * mel / 3.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), hz)


def mel_filters(n_freqs: int, n_mels: int, sampling_rate: int, f_max: float = 8000.0) -> np.ndarray:
    """(n_freqs, n_mels) triangular filters, Slaney-normalised (equal area per band)."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(f_max)), n_mels + 2))
    freqs = np.linspace(0, sampling_rate // 2, n_freqs)
    widths = np.diff(edges)
    slopes = edges[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    bank = np.maximum(0.0, np.minimum(down, up))
    return bank * (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))


class MelExtractor:
    def __init__(
        self,
        feature_size: int = 80,
        n_fft: int = 400,
        hop_length: int = 160,
        chunk_length: int = 30,
        sampling_rate: int = 16000,
        padding_value: float = 0.0,
    ) -> None:
        self.feature_size = feature_size
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.sampling_rate = sampling_rate
        self.n_samples = chunk_length * sampling_rate
        self.nb_max_frames = self.n_samples // hop_length
        self.padding_value = padding_value
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float64)  # periodic Hann
        self.filters_t = np.ascontiguousarray(mel_filters(1 + n_fft // 2, feature_size, sampling_rate).T)

    @classmethod
    def from_config(cls, processor: Mapping[str, Any]) -> MelExtractor:
        """From a preprocessor_config.json (WhisperFeatureExtractor's keys; its defaults where one is absent)."""
        return cls(
            feature_size=int(processor.get("feature_size", 80)),
            n_fft=int(processor.get("n_fft", 400)),
            hop_length=int(processor.get("hop_length", 160)),
            chunk_length=int(processor.get("chunk_length", 30)),
            sampling_rate=int(processor.get("sampling_rate", 16000)),
            padding_value=float(processor.get("padding_value", 0.0)),
        )

    def features(self, samples: np.ndarray) -> np.ndarray:
        """(feature_size, nb_max_frames) float32 for one window of up to `n_samples` samples."""
        wave = np.full(self.n_samples, self.padding_value, dtype=np.float64)
        take = min(len(samples), self.n_samples)
        wave[:take] = samples[:take]
        return self._log_mel(wave)

    def features_long(self, samples: np.ndarray) -> np.ndarray:
        """(feature_size, len(samples) // hop_length) float32 for a recording of any length, unpadded and
        normalised as one (what the extractor gives with `padding="longest", truncation=False`, the input of
        Whisper's long-form decoding); `features` for recordings up to one window."""
        if len(samples) <= self.n_samples:
            return self.features(samples)
        return self._log_mel(np.asarray(samples, dtype=np.float64))

    def _log_mel(self, wave: np.ndarray) -> np.ndarray:
        half = self.n_fft // 2
        padded = np.pad(wave, half, mode="reflect")
        n_frames = 1 + (len(padded) - self.n_fft) // self.hop_length
        frames = np.lib.stride_tricks.as_strided(
            padded, shape=(n_frames, self.n_fft), strides=(padded.strides[0] * self.hop_length, padded.strides[0])
        )
        mel = np.empty((self.feature_size, n_frames), dtype=np.float64)
        for at in range(0, n_frames, FRAMES_PER_BLOCK):  # blocks bound the memory of long recordings
            block = frames[at : at + FRAMES_PER_BLOCK]
            spectrum = np.fft.rfft(block * self.window, axis=1)
            power = spectrum.real**2 + spectrum.imag**2
            mel[:, at : at + len(block)] = self.filters_t @ power.T  # (feature_size, frames)
        log_spec = np.log10(np.maximum(mel, 1e-10))[:, :-1]
        log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
        return ((log_spec + 4.0) / 4.0).astype(np.float32)
