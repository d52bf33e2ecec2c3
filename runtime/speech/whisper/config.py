"""What a Whisper folder's config.json and generation_config.json say: its sizes, special tokens and options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelError

TIME_PRECISION = 0.02  # seconds per timestamp token and per encoder frame
FEATURE_PRECISION = 0.01  # seconds per mel frame
INPUT_STRIDE = 2  # mel frames per encoder frame


@dataclass(frozen=True, eq=False)
class WhisperConfig:
    heads: int
    head_dim: int
    max_target: int  # decoder positions
    max_source: int  # encoder frames in a 30 s window
    median_width: int
    vocab_size: int
    sot: int  # <|startoftranscript|>
    eos: int  # <|endoftext|>, the first special token
    no_timestamps: int
    prev_sot: int | None  # <|startofprev|>, before an initial prompt
    suppress: np.ndarray
    begin_suppress: np.ndarray
    max_initial_timestamp: int | None
    max_length: int
    multilingual: bool
    lang_to_id: dict[str, int]
    task_to_id: dict[str, int]
    forced: list[tuple[int, int | None]]  # forced_decoder_ids: (position, token)
    alignment_heads: list[tuple[int, int]]  # (layer, head) whose cross-attentions time the words

    @property
    def timestamp_begin(self) -> int:  # <|0.00|>; every later token is a timestamp
        return self.no_timestamps + 1

    @property
    def no_speech(self) -> int:
        return self.no_timestamps - 1

    @classmethod
    def read(cls, folder: Path, config: Mapping[str, Any], gen: Mapping[str, Any]) -> WhisperConfig:
        # a bad size fails before a missing no_timestamps_token_id, as it always has
        heads = int(config.get("decoder_attention_heads", 1))
        head_dim = int(config.get("d_model", 64)) // heads
        max_target = int(config.get("max_target_positions", 448))
        max_source = int(config.get("max_source_positions", 1500))
        median_width = int(config.get("median_filter_width", 7))
        vocab_size = int(config.get("vocab_size", 0))
        sot = int(gen.get("decoder_start_token_id", config.get("decoder_start_token_id", 0)))
        eos = int(gen.get("eos_token_id", config.get("eos_token_id", 0)))
        if "no_timestamps_token_id" not in gen:
            raise ModelError(f"{folder}/generation_config.json has no no_timestamps_token_id")
        return cls(
            heads=heads,
            head_dim=head_dim,
            max_target=max_target,
            max_source=max_source,
            median_width=median_width,
            vocab_size=vocab_size,
            sot=sot,
            eos=eos,
            no_timestamps=int(gen["no_timestamps_token_id"]),
            prev_sot=gen.get("prev_sot_token_id"),
            suppress=np.array(gen.get("suppress_tokens") or [], dtype=np.int64),
            begin_suppress=np.array(gen.get("begin_suppress_tokens") or [], dtype=np.int64),
            max_initial_timestamp=gen.get("max_initial_timestamp_index"),
            max_length=int(gen.get("max_length") or max_target),
            multilingual=bool(gen.get("is_multilingual", bool(gen.get("lang_to_id")))),
            lang_to_id={k: int(v) for k, v in (gen.get("lang_to_id") or {}).items()},
            task_to_id={k: int(v) for k, v in (gen.get("task_to_id") or {}).items()},
            forced=[(int(a), None if b is None else int(b)) for a, b in (gen.get("forced_decoder_ids") or [])],
            alignment_heads=[(int(a), int(b)) for a, b in (gen.get("alignment_heads") or [])],
        )
