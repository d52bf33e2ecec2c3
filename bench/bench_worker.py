"""What the Worker runtime adds on top of the inference call: per-request latency through env.AI.run.

    .venv/bin/python bench/bench_worker.py [--requests 30]

Serves the tiny fixture DETR (tests/fixtures/models/detr, so that inference is cheap and the runtime's own cost
shows) as @cf/facebook/detr-resnet-50 behind the test Worker tests/workers/entrypoint_style.py, with the real app
under uvicorn on loopback in this process. For a small fixture PNG and the 1600x1200 fixture JPEG it times, one
request at a time: service.run directly, the Worker with the raw body passed to env.AI.run, and the Worker with
a JSON {"image": [uint8...]} body (parsed, then passed as a list). Prints the median and p90 in milliseconds.
Client and server share one Python process (and its GIL), so the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from support import FIXTURES  # noqa: E402
from worker_support import DETR, WORKERS, detr_service, serve, worker_settings  # noqa: E402

from runtime.service import Caller  # noqa: E402


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    fn()  # warm up
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    n = parser.parse_args().requests
    state = Path(tempfile.mkdtemp())
    service = detr_service(state)
    images = {
        "png 100x80": FIXTURES / "images" / "rgba-100x80.png",
        "jpeg 1600x1200": FIXTURES / "images" / "large-1600x1200.jpg",
    }
    with (
        serve(service, worker_settings(WORKERS / "entrypoint_style.py", state / "w")) as (url, _),
        httpx.Client(timeout=60) as client,
    ):
        print(f"{'image':16} {'path':28} {'median ms':>10} {'p90 ms':>8}")
        for label, path in images.items():
            data = path.read_bytes()
            as_json = orjson.dumps({"image": list(data)})

            def direct() -> None:
                asyncio.run(service.run(DETR, data, caller=Caller(source="cli")))

            def raw() -> None:
                assert client.post(f"{url}/detect/raw", content=data).status_code == 200

            def array() -> None:
                r = client.post(f"{url}/detect/array", content=as_json, headers={"content-type": "application/json"})
                assert r.status_code == 200

            for name, fn in (("service.run", direct), ("Worker, raw bytes", raw), ("Worker, JSON uint8 array", array)):
                median, p90 = timed(fn, n)
                print(f"{label:16} {name:28} {median:10.1f} {p90:8.1f}")
    service.close()


if __name__ == "__main__":
    main()
