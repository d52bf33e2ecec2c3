"""A soak, bounded in count and time: 32 concurrent clients send a few thousand mixed requests (good, bad and
fault-injected) to the Cloudflare REST door, the Hugging Face door and a Worker, against a real `dev` server that
is SIGKILLed and restarted half-way. No 5xx; every answered request has exactly one ledger row with the cost its
answer stated; billed rows are exactly the successful answers (plus at most the requests in flight at the kill);
waiting is bounded (3040 when the queue is full, 3007 past the queue timeout); RSS stays flat."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from metering_server import IMAGES, PRICED, TINY, model_tables
from support import ROOT, DevServer

CLIENTS = 32
PER_PHASE = 1500
QUEUE_TIMEOUT_S = 2.0
CATS = (IMAGES / "cats-640x480.jpg").read_bytes()
WORKERS = ROOT / "tests" / "workers"


def write_config(folder: Path) -> Path:
    tables = "\n".join(
        "[[ai.models]]\n" + "\n".join(f'{k} = "{v}"' for k, v in t.items()) + "\n" for t in model_tables()
    )
    config = folder / "wrangler-like.toml"
    config.write_text(
        f'name = "soak"\nmain = "{WORKERS / "soak.py"}"\n[ai]\nbinding = "AI"\n{tables}\n'
        "[emulator]\n"
        'state_dir = "state"\nreload = false\nauto_pull = false\nintra_op_threads = 1\n'
        f"max_queue = 24\nqueue_timeout_s = {QUEUE_TIMEOUT_S}\n"
        "[[emulator.faults]]\n"
        'model = "@cf/facebook/detr-resnet-50"\ncode = 3040\nrate = 0.25\nseed = 7\n'
    )
    return config


def start(config: Path) -> tuple[subprocess.Popen, str]:
    dev = DevServer("--config", str(config), "--no-reload", cwd=ROOT, log=config.with_name(f"dev-{time.time_ns()}.log"))
    return dev.proc, dev.base


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


KINDS = [  # (door, what, method, path, body, headers)
    ("rest", "good", "POST", f"/client/v4/accounts/a/ai/run/{PRICED}", TINY, {}),
    ("rest", "slow", "POST", "/client/v4/accounts/a/ai/run/@cf/facebook/detr-resnet-50", CATS, {}),
    ("rest", "bad", "POST", f"/client/v4/accounts/a/ai/run/{PRICED}", b"not an image", {}),
    (
        "rest",
        "bad-json",
        "POST",
        f"/client/v4/accounts/a/ai/run/{PRICED}",
        b'{"image": [1,',
        {"content-type": "application/json"},
    ),
    ("rest", "no-model", "POST", "/client/v4/accounts/a/ai/run/@cf/no/such", TINY, {}),
    ("hf", "good", "POST", "/hf-inference/models/test/priced-classifier", TINY, {}),
    ("hf", "bad", "POST", "/hf-inference/models/test/priced-classifier", b"\x89PNG broken", {}),
    ("worker", "good", "POST", "/", TINY, {}),
    ("worker", "bad", "POST", "/", b"GIF89a nothing", {}),
]
WEIGHTS = [30, 4, 6, 3, 2, 20, 5, 25, 5]


async def phase(base: str, count: int, kill: subprocess.Popen | None, seed: int) -> list[dict]:
    rng = random.Random(seed)
    plan = rng.choices(range(len(KINDS)), WEIGHTS, k=count)
    answers: list[dict] = []
    stop = asyncio.Event()
    next_index = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal next_index
        while not stop.is_set() and next_index < len(plan):
            door, what, method, path, body, headers = KINDS[plan[next_index]]
            next_index += 1
            started = time.perf_counter()
            try:
                r = await http.request(method, path, content=body, headers=headers)
            except httpx.TransportError:
                return  # the server was killed under us
            rid = r.headers.get("x-emu-request-id") or r.headers.get("x-ai-request-id")
            cost = r.headers.get("x-emu-cost-usd")
            answers.append(
                {
                    "door": door,
                    "what": what,
                    "status": r.status_code,
                    "id": rid,
                    "cost": cost,
                    "seconds": time.perf_counter() - started,
                }
            )
            if kill is not None and len(answers) >= count // 2 and not stop.is_set():
                os.kill(kill.pid, signal.SIGKILL)
                stop.set()

    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return answers


@pytest.mark.timeout(600)
def test_soak_with_a_sigkill_half_way(tmp_path):
    config = write_config(tmp_path)
    proc, base = start(config)
    first = asyncio.run(phase(base, PER_PHASE, proc, seed=1))  # SIGKILLed after half its answers
    proc.wait(timeout=20)
    assert proc.returncode == -signal.SIGKILL
    proc, base = start(config)  # restarted on the same ledger
    try:
        warm = asyncio.run(phase(base, 200, None, seed=2))
        rss_start = rss_mib(proc.pid)
        second = asyncio.run(phase(base, PER_PHASE, None, seed=3))
        rss_end = rss_mib(proc.pid)
        costs = httpx.get(f"{base}/cdn-cgi/emu/costs", timeout=30).json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    answers = first + warm + second
    statuses = Counter(a["status"] for a in answers)
    print(f"soak: {len(answers)} answers {dict(sorted(statuses.items()))}; RSS {rss_start:.0f} -> {rss_end:.0f} MiB")

    assert not [a for a in answers if a["status"] >= 500], "a 5xx answer"
    db = sqlite3.connect(tmp_path / "state" / "ledger.sqlite3")
    rows = db.execute("SELECT request_id, cost, source, outcome FROM requests").fetchall()
    db.close()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "a request id has two rows"
    by_id = {r[0]: r for r in rows}
    assert all(a["id"] for a in answers), "an answer without its request id"
    missing = [a for a in answers if a["id"] not in by_id]
    assert not missing, f"{len(missing)} answered requests have no row, e.g. {missing[:3]}"
    for a in answers:  # each row says what the answer said
        row = by_id[a["id"]]
        if a["cost"] is not None:
            assert Decimal(row[1]) == Decimal(a["cost"]), (a, row)
        assert (row[3] == "ok") == (a["status"] == 200), (a, row)
    answered_ids = {a["id"] for a in answers}
    unanswered = [r for r in rows if r[0] not in answered_ids]
    assert len(unanswered) <= CLIENTS  # in flight when the process was killed
    billed = {r[0] for r in rows if Decimal(r[1]) > 0}
    # successful answers that cost something (the HF door's cache hits are $0; Worker answers carry no cost header)
    paid = {a["id"] for a in answers if a["status"] == 200 and (a["cost"] is None or Decimal(a["cost"]) > 0)}
    assert paid <= billed and billed - paid <= {r[0] for r in unanswered}
    assert statuses[429] > 0  # injected 3040s (and a full queue) answered at once, not queued without bound
    assert max(a["seconds"] for a in answers if a["status"] in (408, 429)) < QUEUE_TIMEOUT_S + 15
    assert Decimal(costs["total_usd"]) == sum((Decimal(r[1]) for r in rows), Decimal(0))
    assert rss_end - rss_start < max(40.0, 0.15 * rss_start), (rss_start, rss_end)
