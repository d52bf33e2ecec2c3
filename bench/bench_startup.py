"""Start-up figures for a fresh clone: launch `workers-ai-emu dev` and time health, readiness and the first
detection on the example Worker (not a test; prints figures).

    .venv/bin/python bench/bench_startup.py [--runs 5]

Scenarios: the bundled stand-ins (what a fresh offline clone gets), and, when `bench/build_models.py` has built
it, the full-size random-weight DETR of `bench/.models/detr` mapped as the real weights.
Each run copies the repo's wrangler-like.toml and worker/ into a temporary folder (no ../shared, no state) and
runs with HF_HUB_OFFLINE=1 and an empty Hugging Face cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CATS = ROOT / "tests" / "fixtures" / "images" / "cats-640x480.jpg"
FULL_DETR = ROOT / "bench" / ".models" / "detr"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched(extra_config: str) -> Iterator[tuple[str, float]]:
    """`dev` on a fresh copy of the repo's config (plus `extra_config`) and Worker, offline with an empty Hugging
    Face cache; yields (base URL, launch time) and stops the server afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        clone.mkdir()
        (clone / "wrangler-like.toml").write_text((ROOT / "wrangler-like.toml").read_text() + extra_config)
        shutil.copytree(ROOT / "worker", clone / "worker", ignore=shutil.ignore_patterns("__pycache__", "tests"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_HUB_OFFLINE="1", HF_HOME=str(Path(tmp) / "hf"))
        port = free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime", "dev", "--port", str(port), "--no-reload"],
            cwd=clone,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield f"http://127.0.0.1:{port}", t0
        finally:
            proc.terminate()
            proc.wait(30)


def one_run(extra_config: str) -> dict[str, float]:
    image = CATS.read_bytes()
    out: dict[str, float] = {}
    with launched(extra_config) as (base, t0), httpx.Client(timeout=120) as http:
        while "health" not in out:
            try:
                if http.get(f"{base}/cdn-cgi/emu/health").status_code == 200:
                    out["health"] = time.perf_counter() - t0
            except httpx.TransportError:
                time.sleep(0.01)
        # the first detection, sent as soon as the server is up (it waits for the preloading model)
        r = http.post(f"{base}/", content=image)
        assert r.status_code == 200 and r.json()["detections"] is not None, r.text
        out["first_detection"] = time.perf_counter() - t0
        out["weights"] = r.headers.get("x-emu-weights")  # type: ignore[assignment]
        while http.get(f"{base}/cdn-cgi/emu/ready").status_code != 200:
            time.sleep(0.01)
        out["ready"] = time.perf_counter() - t0
    return out


def separate_ready(extra_config: str) -> float:
    """Time to /ready alone (no request sent before it)."""
    with launched(extra_config) as (base, t0):
        while True:
            try:
                if httpx.get(f"{base}/cdn-cgi/emu/ready", timeout=60).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.01)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    scenarios = {"stand-ins (fresh offline clone)": ""}
    if (FULL_DETR / "onnx").is_dir():
        scenarios["full-size DETR (bench/.models/detr)"] = (
            f'\n[[ai.models]]\nname = "@cf/facebook/detr-resnet-50"\npath = "{FULL_DETR}"\n'
        )
    else:
        print(f"(no {FULL_DETR}: run bench/build_models.py for the full-size DETR scenario)")
    results = {}
    for name, extra in scenarios.items():
        runs = [one_run(extra) for _ in range(args.runs)]
        ready = [separate_ready(extra) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("health", "first_detection")}
        med["ready_alone"] = statistics.median(ready)
        results[name] = {**{k: round(v, 3) for k, v in med.items()}, "weights": runs[0]["weights"]}
        print(
            f"{name}: launch→health {med['health']:.2f} s · launch→first detection {med['first_detection']:.2f} s"
            f" · launch→/ready {med['ready_alone']:.2f} s · answered by {runs[0]['weights']}"
            f" (median of {args.runs}, {os.cpu_count()} cores)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
