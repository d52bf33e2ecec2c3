"""A catalog entry: one model the emulator serves, as data (runtime/catalog.py reads them from catalog.toml and the
user's `[[ai.models]]`). A leaf: the tasks, the model store and the doors all read entries; it imports none of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str  # a task's name in runtime/tasks/ (the registry checks it when the catalog loads)
    hf_id: str | None = None
    price: Decimal = Decimal("0")
    beta: bool = False
    listed: bool = True
    description: str = ""
    source: str | None = None  # Hub repository with an ONNX export in the Hugging Face layout
    variant: str = "model.onnx"  # file under onnx/ to load (model.onnx, model_quantized.onnx, ...)
    revision: str | None = None  # the Hub commit (or branch or tag) `source` is pulled at; None: its main branch
    path: Path | None = None  # a local folder in the Hugging Face layout, when configured
    defaults: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # other Workers AI names of this model
    experimental: bool = False  # hidden by the model search's hide_experimental
    max_batch: int = 1  # requests waiting for this model run as one batch of up to this many (1: never batched)
    unit: str = "request"  # what `price` is per: a price unit (metering/units.py), e.g. "audio-minute" for speech
    schema: str | None = None  # the input/output schema when the task has several (e.g. "whisper-large-v3-turbo")
    prices: Mapping[str, Decimal] = field(default_factory=dict)  # price unit -> USD; empty: {unit: price}

    def __post_init__(self) -> None:
        if not self.prices:
            object.__setattr__(self, "prices", {self.unit: self.price})
