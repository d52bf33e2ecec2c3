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

import httpx
import pytest
from api_support import DETR, PNG, make_service, serve
from metering_server import PRICED, TINY
from test_metering_durability import start

from runtime.bindings.ai import AiBinding
from runtime.metering.ledger import WRITE_DELAY_ENV

DELAY_S = 0.4


def count_rows(target: str, request_id: str | None = None) -> int:
    """Rows as a separate connection sees them (another process's view), on either backend."""
    where, params = ("WHERE request_id = ?", (request_id,)) if request_id else ("", ())
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM requests {where.replace('?', '%s')}", params).fetchone()[0]
    db = sqlite3.connect(target)
    try:
        return db.execute(f"SELECT COUNT(*) FROM requests {where}", params).fetchone()[0]
    finally:
        db.close()


def row_visible(target: str, request_id: str) -> bool:
    return count_rows(target, request_id) == 1


def test_every_door_answers_only_after_its_row_is_committed(tmp_path, ledger_target):
    service = make_service(tmp_path, ledger=ledger_target)
    service.ledger.write_delay_s = DELAY_S
    db_path = ledger_target
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
def test_sigkill_while_the_write_is_held_leaves_the_request_unanswered(tmp_path, monkeypatch, ledger_target):
    state = tmp_path / "state"
    monkeypatch.setenv(WRITE_DELAY_ENV, "3")
    proc, base = start(state, ledger_target)
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
    assert count_rows(ledger_target) == 0  # and the write never committed
