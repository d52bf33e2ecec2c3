"""What every door is given: the settings, the one inference service, the Worker host (a leaf: no door here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..metering.neurons import Plan
from ..metering.report import ReportCache

if TYPE_CHECKING:
    from ..host import WorkerHost
from ..service import InferenceService
from ..settings import Settings


@dataclass
class AppContext:
    """What every door needs: the settings, the one inference service, and (if configured) the Worker host."""

    settings: Settings
    service: InferenceService
    host: WorkerHost | None = None  # when the config names a `main` module
    preload: list[str] = field(default_factory=list)  # models to load at start (`dev` with [emulator] preload)
    reports: ReportCache | None = field(init=False, default=None)  # the cost report cache of /cdn-cgi/emu

    def __post_init__(self) -> None:
        if self.service.ledger is not None:
            self.reports = ReportCache(self.service.ledger, plan=Plan.of(self.service.settings))
