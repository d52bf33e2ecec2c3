"""Several emulators, one ledger: two server processes (instances "east" and "west") write the same ledger, SQLite
or PostgreSQL, under 16 concurrent clients each; one is SIGKILLed mid-load and restarted. Every answered request
has exactly one row saying what its x-emu-cost-usd header said, each emulator's `costs` shows the team's total,
and `?instance=` narrows it to one emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
from decimal import Decimal

import httpx
import pytest
from metering_server import PRICED, PRICES, TINY
from test_metering_durability import start

CLIENTS = 16


def all_rows(target: str) -> list[tuple[str, Decimal, str]]:
    """(request id, cost, instance) of every row, read by a separate connection."""
    sql = "SELECT request_id, cost, instance FROM requests"
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        db = sqlite3.connect(target)
        try:
            rows = db.execute(sql).fetchall()
        finally:
            db.close()
    return [(r, Decimal(c), i) for r, c, i in rows]


async def load(base: str, answers: int, kill: subprocess.Popen | None = None) -> dict[str, Decimal]:
    """CLIENTS clients post until `answers` responses arrived (then SIGKILL `kill`, if given, mid-load)."""
    received: dict[str, Decimal] = {}
    done = asyncio.Event()

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = 0
        while not done.is_set():
            i += 1
            body = b"not an image" if i % 8 == n % 8 else TINY  # failures are rows too, at $0
            try:
                r = await http.post(f"/client/v4/accounts/a/ai/run/{PRICED}", content=body)
            except httpx.TransportError:
                return
            assert r.status_code in (200, 400), r.text  # never a 5xx
            received[r.headers["x-emu-request-id"]] = Decimal(r.headers["x-emu-cost-usd"])
            if len(received) >= answers and not done.is_set():
                if kill is not None:
                    os.kill(kill.pid, signal.SIGKILL)
                done.set()

    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await asyncio.gather(*(client(n, http) for n in range(CLIENTS)))
    return received


async def both(east: tuple[str, int, subprocess.Popen | None], west: tuple[str, int, None]):
    return await asyncio.gather(load(*east), load(*west))


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.timeout(300)
def test_two_emulators_share_one_ledger_through_a_sigkill(tmp_path, ledger_target):
    east, east_base = start(tmp_path / "east", ledger_target, "east")
    west, west_base = start(tmp_path / "west", ledger_target, "west")
    try:
        got_east, got_west = asyncio.run(both((east_base, 120, east), (west_base, 200, None)))
        east.wait(timeout=20)
        assert east.returncode == -signal.SIGKILL
        east, east_base = start(tmp_path / "east", ledger_target, "east")  # restarted on the same ledger
        again_east, again_west = asyncio.run(both((east_base, 80, None), (west_base, 80, None)))
        team = httpx.get(f"{east_base}/cdn-cgi/emu/costs").json()
        team_west = httpx.get(f"{west_base}/cdn-cgi/emu/costs").json()
        only_east = httpx.get(f"{west_base}/cdn-cgi/emu/costs?instance=east").json()
        by_instance = httpx.get(f"{east_base}/cdn-cgi/emu/costs?by=instance").json()
    finally:
        for proc in (east, west):
            if proc.poll() is None:
                stop(proc)

    answered = {**got_east, **got_west, **again_east, **again_west}
    print(
        f"shared ledger ({ledger_target.split(':')[0]}): {len(answered)} answers, east killed after"
        f" {len(got_east)}; team total ${team['total_usd']} over {team['requests']} rows"
    )
    assert len(answered) == len(got_east) + len(got_west) + len(again_east) + len(again_west)
    rows = all_rows(ledger_target)
    ids = [r for r, _, _ in rows]
    assert len(ids) == len(set(ids)), "a request id has two rows"
    cost_of = {r: c for r, c, _ in rows}
    missing = set(answered) - set(cost_of)
    assert not missing, f"{len(missing)} answered requests have no row"
    assert all(cost_of[rid] == cost for rid, cost in answered.items())  # each row says what its header said
    unanswered = set(cost_of) - set(answered)  # committed just before the kill, answer lost with the process
    assert len(unanswered) <= CLIENTS
    header_sum = sum(answered.values(), Decimal(0))
    total = Decimal(team["total_usd"])
    assert total == header_sum + sum((cost_of[r] for r in unanswered), Decimal(0)) == sum(cost_of.values())
    assert total == PRICES[PRICED] * sum(1 for c in cost_of.values() if c > 0)  # exact, to the last digit
    assert team_west["total_usd"] == team["total_usd"] and team["requests"] == len(rows)  # both see the team
    assert sorted(team["instances"]) == ["east", "west"]
    east_rows = [r for r in rows if r[2] == "east"]
    assert only_east["requests"] == len(east_rows) and only_east["instance"] == "east"
    assert Decimal(only_east["total_usd"]) == sum((c for _, c, _ in east_rows), Decimal(0))
    assert {g["instance"]: g["requests"] for g in by_instance["breakdown"]} == {
        "east": len(east_rows),
        "west": len(rows) - len(east_rows),
    }
