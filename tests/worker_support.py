"""Helpers for the Worker runtime tests: a service over the fixture DETR model, and a Worker served for real."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

from runtime.catalog import Catalog
from runtime.host import WorkerHost
from runtime.http.app import AppContext, create_app
from runtime.metering.ledger import Ledger
from runtime.service import InferenceService
from runtime.settings import EmulatorSettings, Settings
from support import FIXTURE_MODELS, FIXTURES, running_server

WORKERS = Path(__file__).resolve().parent / "workers"
DETR = "@cf/facebook/detr-resnet-50"
IMAGE = FIXTURES / "images" / "rgba-100x80.png"


def detr_service(state: Path) -> InferenceService:
    """The real service, with the catalog's DETR name mapped to the tiny fixture model."""
    catalog = Catalog.load([{"name": DETR, "path": str(FIXTURE_MODELS / "detr")}])
    return InferenceService(catalog, Ledger(state / "ledger.sqlite3"), EmulatorSettings(state_dir=state))


def worker_settings(main: Path | None, state: Path, reload: bool = False, **values: Any) -> Settings:
    return Settings(main=main, emulator=EmulatorSettings(state_dir=state, reload=reload), **values)


@contextlib.contextmanager
def serve(service: InferenceService, settings: Settings) -> Iterator[tuple[str, WorkerHost | None]]:
    """create_app over a WorkerHost (when settings.main is set), on a real uvicorn; yields (base URL, host)."""
    host = WorkerHost(settings, service) if settings.main is not None else None
    with running_server(create_app(AppContext(settings=settings, service=service, host=host))) as url:
        yield url, host
