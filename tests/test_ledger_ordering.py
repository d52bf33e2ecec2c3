"""One row per request, committed before the answer, shown deterministically: the ledger's write is slowed on
purpose (its documented test seam), and the answer still never arrives before its row is visible to a separate
connection; a SIGKILL while the write is held leaves the request unanswered, never answered without a row."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_support import DETR, PNG, make_service, serve
from metering_server import PRICED, TINY
from test_metering_durability import start

from runtime.binding import AiBinding
from runtime.metering.ledger import WRITE_DELAY_ENV

DELAY_S = 0.4


def row_visible(db_path: Path, request_id: str) -> bool:
    db = sqlite3.connect(db_path)  # a separate connection, as another process would read it
    try:
        return db.execute("SELECT 1 FROM requests WHERE request_id = ?", (request_id,)).fetchone() is not None
    finally:
        db.close()


def test_every_door_answers_only_after_its_row_is_committed(tmp_path):
    service = make_service(tmp_path)
    service.ledger.write_delay_s = DELAY_S
    db_path = service.ledger.path
    binding = AiBinding(service, "w")
    started = time.perf_counter()
    asyncio.run(binding.run(DETR, {"image": list(PNG)}))
    assert time.perf_counter() - started >= DELAY_S  # the write was held...
    assert row_visible(db_path, binding.lastRequestId)  # ...and the answer came after it
    with serve(service) as base, httpx.Client(base_url=base, timeout=60) as http:
        for method, path, body in (
            ("POST", f"/client/v4/accounts/a/ai/run/{DETR}", PNG),
            ("POST", "/hf-inference/models/facebook/detr-resnet-50", PNG),
            ("POST", f"/client/v4/accounts/a/ai/run/{DETR}", b"not an image"),  # a failure too
            ("POST", f"/client/v4/accounts/a/ai/run/{DETR}", b"{"),  # a refusal before inference too
        ):
            started = time.perf_counter()
            answer = http.request(method, path, content=body)
            assert time.perf_counter() - started >= DELAY_S
            assert row_visible(db_path, answer.headers["x-emu-request-id"]), (path, answer.status_code)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_while_the_write_is_held_leaves_the_request_unanswered(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv(WRITE_DELAY_ENV, "3")
    proc, base = start(state)
    outcome: dict[str, object] = {}

    def send() -> None:
        try:
            outcome["answer"] = httpx.post(f"{base}/client/v4/accounts/a/ai/run/{PRICED}", content=TINY, timeout=30)
        except httpx.TransportError as e:
            outcome["error"] = e

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(1.5)  # inference is done; the row's write is being held
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    thread.join(timeout=30)
    assert "answer" not in outcome and "error" in outcome  # no answer without its row
    db = sqlite3.connect(state / "ledger.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0  # and the write never committed
    db.close()
