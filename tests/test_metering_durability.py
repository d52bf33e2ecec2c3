"""SIGKILL during load: after a restart on the same ledger, every request whose response arrived has its row.

The server is a real process (tests/metering_server.py: create_app over InferenceService, real uvicorn) driven
through the Cloudflare REST door; it is killed hard twice, mid-load, and restarted on the same state folder.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from metering_server import PRICED, PRICES, TINY
from support import ROOT, free_port

from runtime.metering.ledger import SCHEMA_VERSION

SCRIPT = ROOT / "tests" / "metering_server.py"


def start(state: Path, ledger: str | None = None, instance: str | None = None) -> tuple[subprocess.Popen, str]:
    """The metering server in its own process; its ledger in `state`, or at `ledger` (path or PostgreSQL URL)."""
    port = free_port()
    extra = [ledger or str(state / "ledger.sqlite3")] + ([instance] if instance else [])
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(port), str(state), *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            if httpx.get(f"{base}/cdn-cgi/emu/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


async def load_then_kill(base: str, proc: subprocess.Popen, kill_after: int) -> tuple[dict[str, Decimal], int]:
    """16 clients post as fast as they can; after `kill_after` responses the server gets SIGKILL.

    Returns {request id: cost header} of every response received, and how many requests were sent.
    """
    received: dict[str, Decimal] = {}
    sent = 0
    killed = asyncio.Event()

    async def client(n: int, http: httpx.AsyncClient) -> None:
        nonlocal sent
        i = 0
        while not killed.is_set():
            i += 1
            body = b"not an image" if i % 10 == n % 10 else TINY  # failures are rows too
            sent += 1
            try:
                r = await http.post(f"/client/v4/accounts/a/ai/run/{PRICED}", content=body)
            except httpx.TransportError:
                return
            received[r.headers["x-emu-request-id"]] = Decimal(r.headers["x-emu-cost-usd"])
            if len(received) >= kill_after and not killed.is_set():
                os.kill(proc.pid, signal.SIGKILL)
                killed.set()

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await asyncio.gather(*(client(n, http) for n in range(16)))
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return received, sent


def ledger_rows(path: Path) -> dict[str, Decimal]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT request_id, cost FROM requests").fetchall()
    finally:
        db.close()
    ids = [r for r, _ in rows]
    assert len(ids) == len(set(ids)), "a request id appears twice"
    return {r: Decimal(c) for r, c in rows}


@pytest.mark.timeout(180)
def test_sigkill_mid_load_keeps_every_answered_request(tmp_path):
    state = tmp_path / "state"
    received: dict[str, Decimal] = {}
    sent = 0
    for kill_after in (150, 100):  # killed twice, restarted on the same ledger each time
        proc, base = start(state)
        got, n = asyncio.run(load_then_kill(base, proc, kill_after))
        assert len(got) >= kill_after
        received.update(got)
        sent += n

    proc, base = start(state)  # the ledger left by a killed process opens (WAL recovery) and reports
    try:
        costs = httpx.get(f"{base}/cdn-cgi/emu/costs").json()
        health = httpx.get(f"{base}/cdn-cgi/emu/health").json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    rows = ledger_rows(state / "ledger.sqlite3")
    missing = set(received) - set(rows)
    assert not missing, f"{len(missing)} answered requests have no ledger row"
    assert all(rows[rid] == cost for rid, cost in received.items())  # the row says what the header said
    assert len(received) <= len(rows) <= sent  # rows for answered requests, plus some cut off by the kill
    billed = sum(1 for c in rows.values() if c > 0)
    assert sum(1 for c in received.values() if c > 0) > 180 and billed < len(rows)
    assert Decimal(costs["total_usd"]) == sum(rows.values()) == billed * PRICES[PRICED]
    assert costs["requests"] == len(rows) and costs["billed_requests"] == billed
    assert health["ledger"]["schema_version"] == SCHEMA_VERSION
