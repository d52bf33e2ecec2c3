"""Helpers for the Worker runtime tests: a service over the fixture DETR model, and a Worker served for real."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support import FIXTURES, running_server

from runtime.host import WorkerHost
from runtime.http.app import create_app
from runtime.http.context import AppContext
from runtime.service import InferenceService
from runtime.settings import EmulatorSettings, Settings

WORKERS = Path(__file__).resolve().parent / "workers"
IMAGE = FIXTURES / "images" / "rgba-100x80.png"


def worker_settings(main: Path | None, state: Path, reload: bool = False, **values: Any) -> Settings:
    return Settings(main=main, emulator=EmulatorSettings(state_dir=state, reload=reload), **values)


@contextlib.contextmanager
def serve(service: InferenceService, settings: Settings) -> Iterator[tuple[str, WorkerHost | None]]:
    """create_app over a WorkerHost (when settings.main is set), on a real uvicorn; yields (base URL, host)."""
    host = WorkerHost(settings, service) if settings.main is not None else None
    with running_server(create_app(AppContext(settings=settings, service=service, host=host))) as url:
        yield url, host
