"""transformers' own pipelines on the bench models, timed phase by phase; prints one JSON object on stdout.

Run by bench_inference.py with the reference interpreter (torch + transformers), not the project venv:

    HF_HUB_OFFLINE=1 /work/refvenv/bin/python bench/bench_transformers.py --image CATS --runs 10 --warmup 2

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
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

HERE = Path(__file__).resolve().parent
TASKS = {"detr": "object-detection", "resnet": "image-classification", "vit": "image-classification"}
AGREEMENT_PARAMS = {"detr": {"threshold": 0.0}, "resnet": {"top_k": 5}, "vit": {"top_k": 5}}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def bench_model(name: str, folder: Path, data: bytes, runs: int, warmup: int, max_seconds: float) -> dict:
    import torch
    from PIL import Image
    from transformers import pipeline
    from transformers.image_utils import load_image

    pipe = pipeline(TASKS[name], model=str(folder), device="cpu")
    pre_kw, fwd_kw, post_kw = pipe._sanitize_parameters()

    def decode() -> Any:
        return load_image(Image.open(io.BytesIO(data)))

    phases: dict[str, list[float]] = {"decode": [], "preprocess": [], "forward": [], "postprocess": [], "total": []}
    started = time.perf_counter()
    done = 0
    for i in range(warmup + runs):
        image, t_dec = timed(decode)
        inputs, t_pre = timed(lambda: pipe.preprocess(image, **pre_kw))
        outputs, t_fwd = timed(lambda: pipe.forward(inputs, **fwd_kw))
        _, t_post = timed(lambda: pipe.postprocess(outputs, **post_kw))
        if i >= warmup:
            for key, value in zip(phases, (t_dec, t_pre, t_fwd, t_post, t_dec + t_pre + t_fwd + t_post)):
                phases[key].append(value)
            done += 1
            if time.perf_counter() - started > max_seconds:
                break
    agreement = pipe(decode(), **AGREEMENT_PARAMS[name])
    return {
        "runs": done,
        "pipeline": type(pipe).__name__,
        "image_processor": type(pipe.image_processor).__name__,
        "torch_threads": torch.get_num_threads(),
        "seconds": phases,
        "agreement_params": AGREEMENT_PARAMS[name],
        "output": agreement,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--models", type=Path, default=HERE / ".models")
    parser.add_argument("--only", default="detr,resnet,vit")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop a model's timed runs after this")
    args = parser.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(json.dumps({"skipped": f"needs torch and transformers: {e}"}))
        return 0
    data = args.image.read_bytes()
    report: dict[str, Any] = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__},
                              "models": {}}
    for name in args.only.split(","):
        folder = args.models / name
        if not (folder / "config.json").is_file():
            report["models"][name] = {"skipped": f"{folder} not built"}
            continue
        report["models"][name] = bench_model(name, folder, data, args.runs, args.warmup, args.max_seconds)
        print(f"transformers {name}: {report['models'][name]['runs']} runs", file=sys.stderr, flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
