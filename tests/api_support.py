"""Scaffolding for the HTTP API tests: a real service over the fixture models, served by real uvicorn.

The helpers here hold up real parts of the service (an inference slot, a model's loading) so that timeouts,
capacity and loading errors can be provoked deterministically; nothing stands in for the code under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from support import DETR, FIXTURES, RESNET, VIT, fixture_catalog, make_service, running_server  # noqa: F401

from runtime.catalog import ModelEntry
from runtime.http.app import create_app
from runtime.http.context import AppContext
from runtime.inference.store import ModelStore
from runtime.service import InferenceService
from runtime.settings import Settings

IMAGES = FIXTURES / "images"
PNG = (IMAGES / "rgba-100x80.png").read_bytes()
WEBP = (IMAGES / "image-128x96.webp").read_bytes()


@contextlib.contextmanager
def serve(service: InferenceService) -> Iterator[str]:
    """The whole app (every door) on a loopback port; yields the base URL."""
    settings = Settings(emulator=service.settings)
    try:
        with running_server(create_app(AppContext(settings, service))) as base:
            yield base
    finally:
        service.close()


def ledger_rows(service: InferenceService) -> list[dict[str, Any]]:
    """The ledger as a separate reader sees it (its own connection to the SQLite file)."""
    db = sqlite3.connect(service.ledger.path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM requests ORDER BY id")]
    finally:
        db.close()


@contextlib.contextmanager
def busy_slot(service: InferenceService) -> Iterator[None]:
    """Occupy the service's only inference slot with a job that waits until the block exits."""
    release = threading.Event()
    entered = threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(30)

    thread = threading.Thread(target=lambda: asyncio.run(service.slots.run(hold)), daemon=True)
    thread.start()
    assert entered.wait(10), "the holding job never started"
    try:
        yield
    finally:
        release.set()
        thread.join(10)


class HeldStore(ModelStore):
    """A store whose model folder "arrives" (a pull that waits) only once `release` is set."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)
        self.release = threading.Event()

    def find(self, entry: ModelEntry) -> Path | None:
        return entry.path if self.release.is_set() else None

    def can_pull(self, entry: ModelEntry) -> bool:
        return True

    def pull(self, entry: ModelEntry, progress: bool = False) -> Path:
        self.release.wait(30)
        assert entry.path is not None
        return entry.path


# One shared client: a fresh httpx.Client per request costs ~25 ms (SSL context) and no keep-alive.
http = httpx.Client(timeout=60)
