"""Worker faults never take the server down: a Worker that raises, returns None or 100 MB, blocks the event loop,
spins forever, exits, or calls env.AI.run many times; the CPU limit ([limits] cpu_ms) ends what runs too long with
Cloudflare's 1102, and the server keeps answering the next request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import make_service
from worker_support import IMAGE, WORKERS, serve, worker_settings

from runtime.service import InferenceService

CPU_MS = 500


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, InferenceService]]:
    service = make_service(tmp_path_factory.mktemp("state"))
    settings = worker_settings(WORKERS / "faulty.py", tmp_path_factory.mktemp("w"), cpu_ms=CPU_MS)
    with serve(service, settings) as (url, _):
        yield url, service
    service.close()


def alive(url: str) -> None:
    assert httpx.get(f"{url}/", timeout=10).text == "ok"


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/raise", 500, "RuntimeError: the Worker broke"),
        ("/none", 500, "returned None"),
        ("/exit", 500, "sys.exit"),
        ("/os-exit", 500, "os._exit(4) called by the Worker: refused"),
    ],
)
def test_a_failing_worker_gets_a_clear_error_and_the_server_stays_up(server, path, status, words):
    url, _ = server
    answer = httpx.get(f"{url}{path}", timeout=30)
    assert answer.status_code == status and words in answer.text
    alive(url)


def test_a_100_mb_response_is_served_whole(server):
    url, _ = server
    answer = httpx.get(f"{url}/huge", timeout=60)
    assert answer.status_code == 200 and len(answer.content) == 100 * 1024 * 1024
    alive(url)


@pytest.mark.parametrize("path", ["/spin", "/spin-swallowing"])
def test_a_worker_that_never_yields_is_stopped_at_its_cpu_limit(server, path):
    url, _ = server
    started = time.monotonic()
    answer = httpx.get(f"{url}{path}", timeout=30)
    took = time.monotonic() - started
    assert answer.status_code == 503 and "Error 1102: Worker exceeded resource limits" in answer.text
    assert CPU_MS / 1000 <= took < 10, took  # stopped soon after its limit, not left to run
    alive(url)


def test_blocking_the_loop_past_the_limit_is_1102_once_it_returns(server):
    url, _ = server
    short = httpx.get(f"{url}/sleep", headers={"x-seconds": "0.05"}, timeout=30)
    assert short.status_code == 200 and short.text == "slept"  # under the limit: fine
    long = httpx.get(f"{url}/sleep", headers={"x-seconds": "1.5"}, timeout=30)
    assert long.status_code == 503 and "1102" in long.text
    alive(url)


def test_many_binding_calls_all_run_and_are_metered(server):
    url, service = server
    before = service.ledger.count()
    answer = httpx.post(f"{url}/many", content=IMAGE.read_bytes(), headers={"x-calls": "300"}, timeout=120)
    # each call yields while inference runs off the loop, so 300 calls fit well within the CPU limit
    assert answer.status_code == 200 and answer.text == "300"
    assert service.ledger.count() - before == 300
    alive(url)


@pytest.mark.timeout(240)
def test_ten_thousand_binding_calls_in_one_request(server):
    url, service = server
    before = service.ledger.count()
    started = time.monotonic()
    answer = httpx.post(
        f"{url}/many", content=IMAGE.read_bytes(), headers={"x-calls": "10000", "x-cached": "1"}, timeout=240
    )
    took = time.monotonic() - started
    assert answer.status_code == 200 and answer.text == "10000"
    rows = service.ledger.latest(10_000)
    assert service.ledger.count() - before == 10_000 and len({r["request_id"] for r in rows}) == 10_000
    assert sum(1 for r in rows if r["cache_hit"]) == 9_999  # AI Gateway's cache answered all but the first
    print(f"10,000 env.AI.run calls in one request: {took:.1f} s")
    alive(url)


def test_cpu_ms_comes_from_wranglers_limits_table(tmp_path: Path):
    from runtime.config import load_settings
    from runtime.errors import ConfigError

    config = tmp_path / "wrangler.toml"
    config.write_text('name = "w"\n[limits]\ncpu_ms = 50\n')
    assert load_settings(config).cpu_ms == 50
    config.write_text('name = "w"\n[limits]\ncpu_ms = 300001\n')
    with pytest.raises(ConfigError, match="cpu_ms"):
        load_settings(config)
    config.write_text('name = "w"\n')
    assert load_settings(config).cpu_ms == 30_000
