"""Typed settings: what `config.py` reads from wrangler-like.toml, and what the rest of the emulator uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


def default_threads() -> int:
    return os.cpu_count() or 1


@dataclass
class EmulatorSettings:
    host: str = "127.0.0.1"
    port: int = 8787
    state_dir: Path = Path(".emu")  # ledger, pulled models
    api_token: str | None = None  # when set, the REST and HF doors require `Authorization: Bearer <token>`
    budget_usd_per_day: Decimal | None = None
    auto_pull: bool = True  # pull a missing catalog model on first use
    intra_op_threads: int = field(default_factory=default_threads)
    max_concurrent_inferences: int = 1  # onnxruntime already spreads one run over all cores
    max_queue: int = 64  # waiting inferences beyond this get 3040 out of capacity
    queue_timeout_s: float = 60.0  # waiting longer than this for a slot gives 3007
    model_wait_s: float = 300.0  # binding and REST wait this long for a model that is being pulled
    cache_size: int = 256  # entries in the Hugging Face door's result cache
    max_body_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    reload: bool = True
    # auto: real weights when on disk, else the bundled stand-in (while auto_pull fetches the real ones);
    # real: only real weights (wait for the pull, or 5007); stand-in: always the bundled stand-ins
    weights: str = "auto"
    preload: bool = True  # dev loads the models the Worker uses in the background at start
    faults: list[dict[str, Any]] = field(default_factory=list)  # [[emulator.faults]] tables (runtime/faults.py)


@dataclass
class Settings:
    config_path: Path | None = None
    name: str = "worker"
    main: Path | None = None  # absolute path of the Worker's main module, None = APIs only
    compatibility_date: str | None = None
    ai_binding: str | None = "AI"
    vars: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)  # [[ai.models]] tables, paths made absolute
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)

    @property
    def root(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()

    @property
    def state_dir(self) -> Path:
        d = self.emulator.state_dir
        return d if d.is_absolute() else self.root / d
