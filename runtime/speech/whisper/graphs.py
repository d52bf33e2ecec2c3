"""Whisper's ONNX graphs: the encoder, and the decoder as one merged graph or as the decoder + decoder_with_past
pair, run one step at a time with a key-value cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelError
from ...inference.decoding import Past, Step, empty_past, next_past
from ...inference.session import open_session


class DecoderGraph:
    """One decoder ONNX graph: its session, inputs, `present.*` and `cross_attentions.*` outputs."""

    def __init__(self, path: Path, intra_op_threads: int) -> None:
        self.session = open_session(path, intra_op_threads)
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        names = [o.name for o in self.session.get_outputs()]
        if "input_ids" not in self.inputs or "logits" not in names:
            raise ModelError(f"{path} is not a Whisper decoder (no input_ids or logits)")
        self.present = [n for n in names if n.startswith("present.")]
        self.cross = sorted((n for n in names if n.startswith("cross_attentions.")), key=lambda n: int(n.split(".")[1]))
        self.outputs = ["logits", *self.present, *self.cross]


class WhisperGraphs:
    """The encoder and the decoder graphs of `onnx/` (`{suffix}` names the variant, as `_quantized`)."""

    def __init__(self, onnx: Path, suffix: str, intra_op_threads: int) -> None:
        encoder_path = onnx / f"encoder_model{suffix}.onnx"
        merged = onnx / f"decoder_model_merged{suffix}.onnx"
        pair = (onnx / f"decoder_model{suffix}.onnx", onnx / f"decoder_with_past_model{suffix}.onnx")
        if not encoder_path.is_file():
            raise ModelError(f"no {encoder_path.name} in {onnx} (Whisper needs its encoder)")
        self.encoder = open_session(encoder_path, intra_op_threads)
        if merged.is_file():  # one graph with both branches (`use_cache_branch`)
            self.first = self.cached = DecoderGraph(merged, intra_op_threads)
        elif pair[0].is_file() and pair[1].is_file():  # the older pair: the first step, then the steps with a cache
            self.first = DecoderGraph(pair[0], intra_op_threads)
            self.cached = DecoderGraph(pair[1], intra_op_threads)
        else:
            raise ModelError(
                f"no {merged.name} in {onnx} (Whisper needs the merged decoder, or {pair[0].name} and {pair[1].name})"
            )

    @property
    def layers(self) -> int:
        """The decoder layers with cross-attention outputs (0 for exports without them)."""
        return len(self.cached.cross)

    @property
    def cross_attentions(self) -> bool:
        return bool(self.first.cross) and bool(self.cached.cross)

    def encode(self, window: np.ndarray) -> np.ndarray:
        """One window's mel features `(mels, frames)` to the encoder's hidden states."""
        name = self.encoder.get_inputs()[0].name
        return self.encoder.run(None, {name: window[None].astype(np.float32)})[0]

    def step(
        self, hidden: np.ndarray, ids: Sequence[int], past: Past | None, heads: int, head_dim: int
    ) -> tuple[np.ndarray, Past, list[np.ndarray]]:
        """One decoder step: the logits `(len(ids), vocab)`, the cache for the next step and the cross-attentions.
        `past` None is the first step (on the first graph, with an empty cache where the graph takes one)."""
        cached = past is not None
        graph = self.cached if cached else self.first
        if past is None:
            past = empty_past(self.first.inputs, heads, head_dim)
        feeds: dict[str, Any] = {"input_ids": np.array([list(ids)], dtype=np.int64)}
        feeds.update((name, value) for name, value in past.items() if name in graph.inputs)
        if "encoder_hidden_states" in graph.inputs:
            feeds["encoder_hidden_states"] = hidden
        if "use_cache_branch" in graph.inputs:
            feeds["use_cache_branch"] = np.array([cached])
        out = graph.session.run(graph.outputs, feeds)
        presents = dict(zip(graph.present, out[1 : 1 + len(graph.present)]))
        # the cross-attention cache is fixed after the first step
        new_past = next_past(self.cached.inputs, presents, past, fixed=lambda name: cached and ".encoder." in name)
        return out[0][0], new_past, list(out[1 + len(graph.present) :])

    def stepper(
        self, hidden: np.ndarray, heads: int, head_dim: int, rows: list[list[np.ndarray]] | None = None
    ) -> Step:
        """The decoding loop's step function over one window's hidden states; each step's cross-attentions (batch
        item 0) are appended to `rows` when it is given."""

        def step(ids: Sequence[int], past: Past | None) -> tuple[np.ndarray, Past]:
            logits, new_past, cross = self.step(hidden, ids, past, heads, head_dim)
            if rows is not None:
                rows.append([c[0] for c in cross])
            return logits, new_past

        return step
