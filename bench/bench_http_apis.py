"""What the HTTP doors add on top of the inference call: per-request latency by door and body format.

    .venv/bin/python bench/bench_http_apis.py [--requests 30]

Serves the tiny fixture ResNet (tests/fixtures/models/resnet, so that inference is cheap and the door's own cost
shows) as @cf/microsoft/resnet-50 with the real app under uvicorn on loopback, in this process. For one image
(../shared's cats PNG when present, else a fixture image), it times, one request at a time:
  service.run directly, Cloudflare REST with raw bytes, Cloudflare REST with a JSON byte array,
  the Hugging Face API with raw bytes (cache off), and the Hugging Face API answered from its cache.
Prints the median and p90 in milliseconds. Client and server share one Python process (and its GIL), so the
figures are an upper bound on the doors' overhead.
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

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from support import CATS, FIXTURE_MODELS, FIXTURES, running_server  # noqa: E402

from runtime.catalog import Catalog  # noqa: E402
from runtime.http.app import AppContext, create_app  # noqa: E402
from runtime.metering.backends import open_ledger  # noqa: E402
from runtime.service import Caller, InferenceService  # noqa: E402
from runtime.settings import EmulatorSettings, Settings  # noqa: E402

MODEL = "@cf/microsoft/resnet-50"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    fn()  # warm up
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    image_path = CATS if CATS.exists() else FIXTURES / "images" / "large-1600x1200.jpg"
    image = image_path.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog.load([{"name": MODEL, "path": str(FIXTURE_MODELS / "resnet")}])
        service = InferenceService(
            catalog, open_ledger(Path(tmp) / "ledger.sqlite3"), EmulatorSettings(state_dir=Path(tmp))
        )
        with (
            running_server(create_app(AppContext(Settings(emulator=service.settings), service))) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            cf = f"/client/v4/accounts/bench/ai/run/{MODEL}"
            hf = "/hf-inference/models/microsoft/resnet-50"
            as_json = {"image": list(image)}

            def ok(r: httpx.Response) -> None:
                assert r.status_code == 200, r.text

            loop = asyncio.new_event_loop()
            rows = {
                "service.run (in-process)": lambda: loop.run_until_complete(
                    service.run(MODEL, image, None, Caller(source="cli"))
                ),
                "REST raw bytes": lambda: ok(http.post(cf, content=image)),
                "REST JSON byte array": lambda: ok(http.post(cf, json=as_json)),
                "HF raw bytes (no cache)": lambda: ok(http.post(hf, content=image, headers={"x-use-cache": "false"})),
                "HF cache hit": lambda: ok(http.post(hf, content=image)),
            }
            print(
                f"image {image_path.name} ({len(image)} bytes), model {FIXTURE_MODELS / 'resnet'}, "
                f"{args.requests} sequential requests each"
            )
            print(f"{'path':28} {'median ms':>10} {'p90 ms':>10}")
            for name, fn in rows.items():
                t = sorted(timed(fn, args.requests))
                print(f"{name:28} {statistics.median(t):10.2f} {t[int(0.9 * (len(t) - 1))]:10.2f}")
            loop.close()
        service.close()


if __name__ == "__main__":
    main()
