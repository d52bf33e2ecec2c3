"""WhisperModel: a Whisper folder loaded, and a recording transcribed window by window."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...audio.features import MelExtractor
from ...errors import BadInput, ModelError
from ...inference.decoding import (
    LogitsProcessor,
    MaxLength,
    StoppingRule,
    StopTokens,
    SuppressAtBegin,
    SuppressTokens,
    decode,
    softmax,
)
from ...inference.model import read_json
from ..transcript import Transcript
from .alignment import token_times
from .chunks import chunks
from .config import INPUT_STRIDE, TIME_PRECISION, WhisperConfig
from .graphs import WhisperGraphs
from .prompt import init_tokens
from .segments import Decoded, Window, split_window
from .text import WhisperText, load_tokenizer
from .timestamps import TimestampRules


class WhisperModel:
    """One Whisper model folder; `transcribe` is thread-safe (the sessions are, and decoding keeps its own state)."""

    def __init__(self, folder: Path, suffix: str = "", intra_op_threads: int = 1) -> None:
        folder = Path(folder)
        self.folder = folder
        config = read_json(folder / "config.json")
        gen = read_json(folder / "generation_config.json")
        if not gen:
            raise ModelError(f"{folder} has no generation_config.json (Whisper's special tokens and options)")
        self.mel = MelExtractor.from_config(read_json(folder / "preprocessor_config.json"))
        if self.mel.feature_size != int(config.get("num_mel_bins", self.mel.feature_size)):
            raise ModelError(f"{folder}: preprocessor_config.json and config.json disagree on the mel bands")
        tokenizer = load_tokenizer(folder)
        clean_up = bool(read_json(folder / "tokenizer_config.json").get("clean_up_tokenization_spaces", False))
        self.graphs = WhisperGraphs(folder / "onnx", suffix, intra_op_threads)
        self.config = cfg = WhisperConfig.read(folder, config, gen)
        self.text = WhisperText(tokenizer, cfg.eos, clean_up)
        self.multilingual = cfg.multilingual
        self.words_available = self.graphs.cross_attentions and bool(cfg.alignment_heads)
        self.translates = "translate" in cfg.task_to_id

    # -- the public interface (the Recognizer of runtime/tasks/speech_recognition/family.py) --

    def transcribe(
        self,
        samples: np.ndarray,
        task: str | None = None,
        language: str | None = None,
        initial_prompt: str | None = None,
        prefix: str | None = None,
        timestamps: bool | str = "word",
    ) -> Transcript:
        """Float32 16 kHz mono samples to a Transcript: segments (from timestamp tokens) and words (from the
        cross-attention alignment) unless `timestamps` is False, when the text comes from one plain decode."""
        cfg = self.config
        if not self.multilingual and (task not in (None, "transcribe") or language not in (None, "en")):
            raise BadInput("this Whisper model is English-only: it neither translates nor takes another language")
        task = None if not self.multilingual else task
        language = None if not self.multilingual else language
        features = self.mel.features_long(samples)
        real_frames = -(-len(samples) // self.mel.hop_length)  # the feature extractor's attention mask
        window_frames = INPUT_STRIDE * cfg.max_source
        total_frames = features.shape[1] if len(samples) > self.mel.n_samples else window_frames
        words = timestamps == "word" and self.words_available
        stamped = bool(timestamps) or total_frames > window_frames
        init, lang_id, lang_prob = init_tokens(cfg, self.graphs, features[:, :window_frames], task, language, stamped)
        prompt: list[int] = []
        if initial_prompt and initial_prompt.strip():
            start = [int(cfg.prev_sot)] if cfg.prev_sot is not None else []
            prompt = start + self.text.encode(" " + initial_prompt.strip())
        prefix = (prefix or "").strip()
        forced = self.text.encode(" " + prefix) if prefix else []
        decoded = Decoded()
        seek = 0
        max_length = cfg.max_length
        while seek < total_frames:
            seek_frames = min(total_frames - seek, window_frames)
            window = features[:, seek : seek + seek_frames]
            if window.shape[1] < window_frames:
                window = np.pad(window, ((0, 0), (0, window_frames - window.shape[1])))
            start_ids = prompt + init + (forced if seek == 0 else [])
            # transformers lengthens max_length by the prompt on every window (and never shortens it again)
            max_length = min(max_length + min(cfg.max_target // 2 - 1, len(start_ids)), cfg.max_target)
            result = self._decode_window(
                window, start_ids, max_length, stamped, words, (real_frames - seek) if words else None
            )
            offset = seek * TIME_PRECISION / INPUT_STRIDE
            seek += split_window(result, offset, seek_frames, decoded, cfg.timestamp_begin)
        duration = len(samples) / self.mel.sampling_rate
        text, segments = chunks(decoded, words, duration, self.text, cfg.timestamp_begin, cfg.max_source)
        if forced:  # the prefix was decoded as part of the prompt; it begins the transcript, as Workers AI says
            text = f" {prefix}{text}" if text.startswith(" ") else f" {prefix} {text}"
            if segments:
                segments[0].text = f" {prefix} {segments[0].text.strip()}"
        language_code = _code(cfg.lang_to_id, lang_id) if lang_id is not None else (language or "en")
        transcript = Transcript(text=text, segments=segments, language=language_code)
        transcript.language_probability = lang_prob
        transcript.duration = len(samples) / self.mel.sampling_rate
        return transcript

    # -- one window --

    def _processors(self, stamped: bool) -> list[LogitsProcessor]:
        """The logits processors in transformers' order: suppress at the beginning, suppress, timestamp rules."""
        cfg = self.config
        out: list[LogitsProcessor] = []
        if cfg.begin_suppress.size:
            out.append(SuppressAtBegin(cfg.begin_suppress))
        if cfg.suppress.size:
            out.append(SuppressTokens(cfg.suppress))
        if stamped:
            out.append(TimestampRules(cfg.eos, cfg.no_timestamps, cfg.timestamp_begin, cfg.max_initial_timestamp))
        return out

    def _decode_window(
        self,
        window: np.ndarray,
        start_ids: list[int],
        max_length: int,
        stamped: bool,
        words: bool,
        num_frames: int | None,
    ) -> Window:
        """Greedy decoding of one window after `start_ids`, with its statistics and (`words`) its token times."""
        cfg = self.config
        hidden = self.graphs.encode(window)
        rows: list[list[np.ndarray]] = []
        step = self.graphs.stepper(hidden, cfg.heads, cfg.head_dim, rows if words else None)
        stopping: list[StoppingRule] = [StopTokens(frozenset({cfg.eos})), MaxLength(max_length)]
        out = decode(step, start_ids, self._processors(stamped), stopping)
        sot_row = start_ids.index(cfg.sot) if cfg.sot in start_ids else 0
        no_speech_prob = softmax(out.prompt_logits[sot_row].astype(np.float64))[cfg.no_speech]
        tokens = out.generated
        if tokens and tokens[-1] == cfg.eos:
            tokens = tokens[:-1]
        times = None
        if words:
            begin, length = out.begin, len(out.ids)
            layers, heads, width = self.graphs.layers, cfg.alignment_heads, cfg.median_width
            times = token_times(rows, heads, layers, begin, length, num_frames, width)[begin : begin + len(tokens)]
        return Window(tokens, times, out.logprob_sum / max(1, len(out.logprobs)), float(no_speech_prob))


def _code(lang_to_id: dict[str, int], token: int) -> str:
    for name, value in lang_to_id.items():
        if value == token:
            return name.strip("<|>")
    return "en"
