"""transformers' own pipelines on the bench models, timed phase by phase; prints one JSON object on stdout.

Run by bench_inference.py with the reference interpreter (torch + transformers), not the project venv:

    HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/bench_transformers.py --image CATS --runs 10 --warmup 2

With --stdio it loads the pipelines, prints the versions line, then times one request per `run NAME` line on
stdin, so that bench_inference.py can interleave emulator and transformers runs (a busy shared machine then
slows both sides alike).

Phases mirror the emulator's: decode (bytes -> upright RGB PIL image, as `load_image` does), preprocess (the
pipeline's image processor), forward (the PyTorch model), postprocess (the pipeline's output formatting).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

HERE = Path(__file__).resolve().parent
TASKS = {"detr": "object-detection", "resnet": "image-classification", "vit": "image-classification"}
AGREEMENT_PARAMS = {"detr": {"threshold": 0.0}, "resnet": {"top_k": 5}, "vit": {"top_k": 5}}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


class Runner:
    """One model's pipeline, loaded once; `once()` times one request phase by phase."""

    def __init__(self, name: str, folder: Path, data: bytes) -> None:
        from transformers import pipeline

        self.name = name
        self.data = data
        self.pipe = pipeline(TASKS[name], model=str(folder), device="cpu")
        self.kwargs = self.pipe._sanitize_parameters()

    def decode(self) -> Any:
        from PIL import Image
        from transformers.image_utils import load_image

        return load_image(Image.open(io.BytesIO(self.data)))

    def once(self) -> dict[str, float]:
        pre_kw, fwd_kw, post_kw = self.kwargs
        image, t_dec = timed(self.decode)
        inputs, t_pre = timed(lambda: self.pipe.preprocess(image, **pre_kw))
        outputs, t_fwd = timed(lambda: self.pipe.forward(inputs, **fwd_kw))
        _, t_post = timed(lambda: self.pipe.postprocess(outputs, **post_kw))
        return {
            "decode": t_dec,
            "preprocess": t_pre,
            "forward": t_fwd,
            "postprocess": t_post,
            "total": t_dec + t_pre + t_fwd + t_post,
        }

    def output(self) -> Any:
        return self.pipe(self.decode(), **AGREEMENT_PARAMS[self.name])

    def describe(self) -> dict[str, Any]:
        import torch

        return {
            "pipeline": type(self.pipe).__name__,
            "image_processor": type(self.pipe.image_processor).__name__,
            "torch_threads": torch.get_num_threads(),
            "agreement_params": AGREEMENT_PARAMS[self.name],
        }


def bench_model(runner: Runner, runs: int, warmup: int, max_seconds: float) -> dict:
    phases: dict[str, list[float]] = {}
    started = time.perf_counter()
    for i in range(warmup + runs):
        spent = runner.once()
        if i >= warmup:
            for key, value in spent.items():
                phases.setdefault(key, []).append(value)
            if time.perf_counter() - started > max_seconds:
                break
    return {"runs": len(phases.get("total", [])), **runner.describe(), "seconds": phases, "output": runner.output()}


def serve_stdio(runners: dict[str, Runner]) -> None:
    """Line protocol for interleaved timing: `run NAME` -> phase seconds, `output NAME`, `describe NAME`; one
    JSON object per answer line; ends at `quit` or end of input."""
    print(json.dumps({"ready": sorted(runners)}), flush=True)
    for line in sys.stdin:
        verb, _, name = line.strip().partition(" ")
        if verb == "quit":
            return
        runner = runners.get(name)
        if runner is None:
            answer: Any = {"error": f"unknown model {name!r}"}
        elif verb == "run":
            answer = runner.once()
        elif verb == "output":
            answer = runner.output()
        elif verb == "describe":
            answer = runner.describe()
        else:
            answer = {"error": f"unknown command {verb!r}"}
        print(json.dumps(answer), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--models", type=Path, default=HERE / ".models")
    parser.add_argument("--only", default="detr,resnet,vit")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop a model's timed runs after this")
    parser.add_argument("--stdio", action="store_true", help="answer run/output commands on stdin (interleaving)")
    args = parser.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(json.dumps({"skipped": f"needs torch and transformers: {e}"}))
        return 0
    data = args.image.read_bytes()
    report: dict[str, Any] = {
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "models": {},
    }
    runners: dict[str, Runner] = {}
    for name in args.only.split(","):
        folder = args.models / name
        if not (folder / "config.json").is_file():
            report["models"][name] = {"skipped": f"{folder} not built"}
            continue
        runners[name] = Runner(name, folder, data)
    if args.stdio:
        print(json.dumps(report), flush=True)
        serve_stdio(runners)
        return 0
    for name, runner in runners.items():
        report["models"][name] = bench_model(runner, args.runs, args.warmup, args.max_seconds)
        print(f"transformers {name}: {report['models'][name]['runs']} runs", file=sys.stderr, flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
