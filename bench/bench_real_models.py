"""Latency of the real small models (../shared/models) through the service, and `models pull` throughput.

    .venv/bin/python bench/bench_real_models.py [--runs 20] [--pull-mb 64]

YOLOX-Nano (mapped as @cf/facebook/detr-resnet-50) and SqueezeNet (as @cf/microsoft/resnet-50) on the COCO cats:
median and p90 of `InferenceService.run_sync`. Then a pull of a synthetic repository of --pull-mb MB from a
loopback Hub (tests/hub_server.py) through huggingface_hub, download + sha256 verification + placement, and
a second pull (nothing to do). Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
SHARED = REPO.parent / "shared"
CATS = SHARED / "images" / "coco-000000039769-cats.png"


def latency(runs: int) -> None:
    from runtime.catalog import Catalog
    from runtime.service import Caller, InferenceService
    from runtime.settings import EmulatorSettings

    catalog = Catalog.load(
        [
            {"name": "@cf/facebook/detr-resnet-50", "path": str(SHARED / "models" / "yolox-nano")},
            {"name": "@cf/microsoft/resnet-50", "path": str(SHARED / "models" / "squeezenet-fp16")},
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        svc = InferenceService(catalog, None, EmulatorSettings(state_dir=Path(tmp)))
        data = CATS.read_bytes()
        for name in ("@cf/facebook/detr-resnet-50", "@cf/microsoft/resnet-50"):
            svc.run_sync(name, data, caller=Caller(source="cli"))  # load + warm up
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                result = svc.run_sync(name, data, caller=Caller(source="cli")).result
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            top = result[0]
            print(
                f"{name:32s} median {statistics.median(times):7.1f} ms  p90 {times[int(0.9 * (runs - 1))]:7.1f} ms"
                f"  top: {top['label']} {top['score']:.3f}"
            )
        svc.close()


def pull(megabytes: int) -> None:
    from hub_server import FakeHub
    from huggingface_hub import constants
    from support import FIXTURE_MODELS, running_server

    from runtime.catalog import Catalog
    from runtime.inference.store import ModelStore

    constants.HF_HUB_OFFLINE = False
    hub = FakeHub()
    big = os.urandom(megabytes * 1_000_000)
    hub.add_folder("bench/model", FIXTURE_MODELS / "detr", extra={"onnx/model.onnx": big})
    with tempfile.TemporaryDirectory() as tmp, running_server(hub.app()) as url:
        os.environ.update(HF_ENDPOINT=url, HF_HUB_CACHE=f"{tmp}/cache", HF_HUB_DISABLE_PROGRESS_BARS="1")
        entry = Catalog.load([{"name": "@cf/facebook/detr-resnet-50", "source": "bench/model"}]).get(
            "@cf/facebook/detr-resnet-50"
        )
        store = ModelStore(Path(tmp) / "state")
        t = time.perf_counter()
        store.pull(entry)
        first = time.perf_counter() - t
        t = time.perf_counter()
        store.pull(entry)
        second = time.perf_counter() - t
    print(
        f"pull {megabytes} MB from a loopback Hub: {first:.2f} s ({megabytes / first:.0f} MB/s incl. sha256); "
        f"second pull {second * 1000:.1f} ms, {hub.file_gets()} file GETs in all"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pull-mb", type=int, default=64)
    args = parser.parse_args()
    if CATS.exists():
        latency(args.runs)
    else:
        print(f"skipping latency: {CATS} is absent")
    pull(args.pull_mb)


if __name__ == "__main__":
    main()
