"""Per-request latency of the emulator's inference path vs transformers' own pipeline, full-size models.

    HF_HUB_OFFLINE=1 /work/refvenv/bin/python bench/build_models.py     # once: bench/.models/
    .venv/bin/python bench/bench_inference.py [--runs 10] [--warmup 2] [--no-transformers]

For each model, on the COCO cats photo: median and p90 over the timed runs of the whole
`InferenceService.run_sync` call, split into decode, preprocess, onnxruntime run and postprocess (timing
wrappers around the loaded model's own methods, so the measured code is the production code); then the same
phases for transformers' pipeline (bench_transformers.py under the reference interpreter), the ratio, and
whether the two agree on the outputs. Prints a table; writes bench/results/<date>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

MODELS = HERE / ".models"
CATS = REPO.parent / "shared" / "images" / "coco-000000039769-cats.png"
REF_PYTHON = Path(os.environ.get("BENCH_REF_PYTHON", "/work/refvenv/bin/python"))
# bench folder -> the name the emulator serves it under
NAMES = {"detr": "@cf/facebook/detr-resnet-50", "resnet": "@cf/microsoft/resnet-50",
         "vit": "google/vit-base-patch16-224"}
AGREEMENT_PARAMS = {"detr": {"threshold": 0.0}, "resnet": {"top_k": 5}, "vit": {"top_k": 5}}
PHASES = ("decode", "preprocess", "onnxruntime", "postprocess", "service overhead", "total")
REF_PHASES = {"decode": "decode", "preprocess": "preprocess", "onnxruntime": "forward",
              "postprocess": "postprocess", "total": "total"}


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(values) * 1000, "p90_ms": pct(values, 90) * 1000, "n": len(values)}


class Clock:
    """Wraps an object's method (as an instance attribute) and accumulates its wall time per call."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, obj: Any, method: str, key: str) -> None:
        inner: Callable[..., Any] = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.spent[key] = self.spent.get(key, 0.0) + time.perf_counter() - t0

        setattr(obj, method, timed)

    def take(self) -> dict[str, float]:
        spent, self.spent = self.spent, {}
        return spent


def bench_emulator(names: list[str], data: bytes, runs: int, warmup: int, max_seconds: float) -> dict[str, Any]:
    from runtime.catalog import Catalog
    from runtime.metering.ledger import Ledger
    from runtime.service import InferenceService
    from runtime.settings import EmulatorSettings

    state = Path(tempfile.mkdtemp(prefix="emu-bench-"))
    catalog = Catalog.load([{"name": NAMES[n], "path": str(MODELS / n)} for n in names], where="bench")
    settings = EmulatorSettings(state_dir=state, auto_pull=False)
    service = InferenceService(catalog, Ledger(state / "ledger.sqlite3"), settings)
    report: dict[str, Any] = {"intra_op_threads": settings.intra_op_threads}
    try:
        for name in names:
            model = NAMES[name]
            t0 = time.perf_counter()
            service.run_sync(model, data)  # loads the model (first use), then one warm-up run
            load_s = time.perf_counter() - t0
            loaded = service.pool.loaded(model)
            clock = Clock()
            clock.wrap(loaded, "predict", "model")
            clock.wrap(loaded.family, "predict", "family")
            clock.wrap(loaded.family, "pixel_values_for", "preprocess")
            clock.wrap(loaded.family, "run", "onnxruntime")
            phases: dict[str, list[float]] = {p: [] for p in PHASES}
            started = time.perf_counter()
            for i in range(warmup - 1 + runs):
                t0 = time.perf_counter()
                service.run_sync(model, data)
                total = time.perf_counter() - t0
                s = clock.take()
                if i < warmup - 1:
                    continue
                phases["decode"].append(s["model"] - s["family"])
                phases["preprocess"].append(s["preprocess"])
                phases["onnxruntime"].append(s["onnxruntime"])
                phases["postprocess"].append(s["family"] - s["preprocess"] - s["onnxruntime"])
                phases["service overhead"].append(total - s["model"])
                phases["total"].append(total)
                if time.perf_counter() - started > max_seconds:
                    break
            output = service.run_sync(model, data, AGREEMENT_PARAMS[name]).result
            report[name] = {"served_as": model, "first_call_s": load_s, "seconds": phases, "output": output}
            print(f"emulator {name}: {len(phases['total'])} runs", file=sys.stderr, flush=True)
    finally:
        service.close()
    return report


def bench_transformers(names: list[str], image: Path, runs: int, warmup: int, max_seconds: float) -> dict:
    if not REF_PYTHON.exists():
        return {"skipped": f"no reference interpreter at {REF_PYTHON} (set BENCH_REF_PYTHON)"}
    cmd = [str(REF_PYTHON), str(HERE / "bench_transformers.py"), "--image", str(image), "--only", ",".join(names),
           "--runs", str(runs), "--warmup", str(warmup), "--max-seconds", str(max_seconds)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60 + 4 * max_seconds * len(names))
    except subprocess.TimeoutExpired:
        return {"skipped": "bench_transformers.py timed out"}
    if done.returncode != 0:
        return {"skipped": f"bench_transformers.py failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(name: str, ours: list[dict], theirs: list[dict]) -> dict[str, Any]:
    """Max score difference and whether labels (and, for detection, integer boxes) agree item by item."""
    same_len = len(ours) == len(theirs)
    pairs = list(zip(ours, theirs))
    result: dict[str, Any] = {
        "items": [len(ours), len(theirs)],
        "labels_equal": same_len and all(a["label"] == b["label"] for a, b in pairs),
        "max_score_diff": max((abs(a["score"] - b["score"]) for a, b in pairs), default=0.0),
    }
    if name == "detr":
        result["max_box_diff_px"] = max(
            (abs(a["box"][k] - b["box"][k]) for a, b in pairs for k in ("xmin", "ymin", "xmax", "ymax")), default=0)
    return result


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x:8.1f}"


def print_table(report: dict[str, Any]) -> None:
    print(f"\nInference latency on {Path(report['image']).name} ({report['machine']['cpus']} cores); "
          f"median / p90 in ms over the timed runs\n")
    header = f"{'model':8} {'phase':17} {'emulator p50':>12} {'p90':>8} {'transformers p50':>17} {'p90':>8} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for name, row in report["models"].items():
        for phase in PHASES:
            ours = row["emulator"][phase]
            ref = row.get("transformers", {}).get(phase)
            ratio = f"{ours['median_ms'] / ref['median_ms']:6.2f}" if ref and ref["median_ms"] > 0 else "     -"
            print(f"{name:8} {phase:17} {ms(ours['median_ms']):>12} {ms(ours['p90_ms']):>8} "
                  f"{ms(ref and ref['median_ms']):>17} {ms(ref and ref['p90_ms']):>8} {ratio}")
        agree = row.get("agreement")
        if agree:
            extra = f", max box diff {agree['max_box_diff_px']} px" if "max_box_diff_px" in agree else ""
            print(f"{'':8} agreement ({agree['params']}): {agree['items'][0]} vs {agree['items'][1]} items, "
                  f"labels equal {agree['labels_equal']}, max score diff {agree['max_score_diff']:.2e}{extra}")
        print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per model (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=45.0, help="cap on one model's timed runs")
    parser.add_argument("--only", default="detr,resnet,vit")
    parser.add_argument("--no-transformers", action="store_true", help="skip the reference pipeline")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/<date>.json)")
    args = parser.parse_args()
    if not CATS.exists():
        print(f"skipped: needs {CATS} (../shared is not beside this checkout)")
        return 0
    names = [n for n in args.only.split(",") if (MODELS / n / "onnx" / "model.onnx").is_file()]
    if not names:
        print(f"skipped: no bench models in {MODELS}; build them first with\n"
              f"  HF_HUB_OFFLINE=1 /work/refvenv/bin/python bench/build_models.py")
        return 0
    data = CATS.read_bytes()
    load_before = os.getloadavg()
    emu = bench_emulator(names, data, args.runs, args.warmup, args.max_seconds)
    ref = {} if args.no_transformers else bench_transformers(names, CATS, args.runs, args.warmup, args.max_seconds)
    import numpy
    import onnxruntime

    report: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "image": str(CATS.relative_to(REPO.parent)),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "versions": {"onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__,
                     **(ref.get("versions") or {})},
        "settings": {"runs": args.runs, "warmup": args.warmup, "intra_op_threads": emu["intra_op_threads"]},
        "models": {},
    }
    if "skipped" in ref:
        report["transformers_skipped"] = ref["skipped"]
        print(f"transformers reference skipped: {ref['skipped']}", file=sys.stderr)
    for name in names:
        row: dict[str, Any] = {"served_as": emu[name]["served_as"], "first_call_s": emu[name]["first_call_s"],
                               "emulator": {p: summary(v) for p, v in emu[name]["seconds"].items()}}
        theirs = (ref.get("models") or {}).get(name)
        if theirs and "seconds" in theirs:
            row["transformers"] = {p: summary(theirs["seconds"][r]) for p, r in REF_PHASES.items()}
            row["transformers_pipeline"] = f"{theirs['pipeline']} + {theirs['image_processor']}"
            row["ratio_total"] = row["emulator"]["total"]["median_ms"] / row["transformers"]["total"]["median_ms"]
            row["agreement"] = {"params": AGREEMENT_PARAMS[name],
                                **agreement(name, emu[name]["output"], theirs["output"])}
        report["models"][name] = row
    print_table(report)
    out = args.out or HERE / "results" / f"{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
