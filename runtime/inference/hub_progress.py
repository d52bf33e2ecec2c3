"""How far a Hub pull has come: bytes fetched per model (for progress bars and the Hugging Face door's
`estimated_time`), and the rich progress bar `models pull` shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..entry import ModelEntry

ASSUMED_BYTES_PER_S = 5_000_000.0  # download rate assumed before one is measured
LOAD_S = 3.0  # building the onnxruntime session after the download


@dataclass
class PullState:
    """Bytes fetched so far for one model, for progress bars and the HF door's `estimated_time`."""

    total: int | None = None
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    listeners: list[Callable[[PullState], None]] = field(default_factory=list)

    def add(self, n: int) -> None:
        self.done += n
        for listener in self.listeners:
            listener(self)

    def estimated_time(self) -> float:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if self.done > 0 and elapsed > 1.0 else ASSUMED_BYTES_PER_S
        remaining = max(0, (self.total or 0) - self.done)
        return round(remaining / max(rate, 1.0) + LOAD_S, 1)


def bar_class(state: PullState) -> type:
    """A tqdm stand-in for `hf_hub_download` that counts bytes into `state` (huggingface_hub calls update/close)."""

    class Bar:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def update(self, n: int | float | None = 1) -> None:
            state.add(int(n or 0))

        def close(self) -> None:
            pass

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

    return Bar


class Bars:
    def __init__(self, progress: Any) -> None:
        self.progress = progress

    def stop(self) -> None:
        self.progress.stop()


def progress_bars(entry: ModelEntry, state: PullState) -> Bars:
    """One rich progress bar (on stderr) for the whole model's bytes."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = progress.add_task(f"{entry.name}", total=state.total or None)
    progress.start()
    state.listeners.append(lambda s: progress.update(task, completed=s.done))
    return Bars(progress)
