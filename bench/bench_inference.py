"""Per-request latency of the emulator's inference path vs transformers' own pipeline, full-size models.

    HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/build_models.py     # once: bench/.models/
    .venv/bin/python bench/bench_inference.py [--runs 10] [--warmup 2] [--no-transformers]

For each model, on the COCO cats photo: median and p90 over the timed runs of the whole
`InferenceService.run_sync` call, split into decode, preprocess, onnxruntime run and postprocess (timing
wrappers around the loaded model's own methods, so the measured code is the production code); then the same
phases for transformers' pipeline (bench_transformers.py --stdio under the reference interpreter), the ratio,
and whether the two agree on the outputs. Emulator and transformers requests alternate one by one (never
overlapping), so a busy shared machine slows both sides alike. Prints a table; writes
bench/results/<date>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

MODELS = HERE / ".models"
CATS = REPO.parent / "shared" / "images" / "coco-000000039769-cats.png"
REF_PYTHON = Path(
    os.environ.get("BENCH_REF_PYTHON", Path(__file__).resolve().parents[1] / ".venv-ref" / "bin" / "python")
)
# bench folder -> the name the emulator serves it under
NAMES = {
    "detr": "@cf/facebook/detr-resnet-50",
    "resnet": "@cf/microsoft/resnet-50",
    "vit": "google/vit-base-patch16-224",
}
AGREEMENT_PARAMS = {"detr": {"threshold": 0.0}, "resnet": {"top_k": 5}, "vit": {"top_k": 5}}
PHASES = ("decode", "preprocess", "onnxruntime", "postprocess", "service overhead", "total")
REF_PHASES = {
    "decode": "decode",
    "preprocess": "preprocess",
    "onnxruntime": "forward",
    "postprocess": "postprocess",
    "total": "total",
}


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(values) * 1000,
        "p90_ms": pct(values, 90) * 1000,
        "min_ms": min(values) * 1000,
        "n": len(values),
    }


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


class Emulator:
    """The emulator's service with timing wrappers on the loaded models' own methods."""

    def __init__(self, names: list[str], data: bytes) -> None:
        from runtime.catalog import Catalog
        from runtime.metering.backends import open_ledger
        from runtime.service import InferenceService
        from runtime.settings import EmulatorSettings

        state = Path(tempfile.mkdtemp(prefix="emu-bench-"))
        catalog = Catalog.load([{"name": NAMES[n], "path": str(MODELS / n)} for n in names], where="bench")
        self.settings = EmulatorSettings(state_dir=state, auto_pull=False)
        self.service = InferenceService(catalog, open_ledger(state / "ledger.sqlite3"), self.settings)
        self.data = data
        self.clock = Clock()
        self.first_call_s: dict[str, float] = {}

    def load(self, name: str) -> None:
        """First call: loads the model (timed as `first_call_s`), then wraps its methods with the clock."""
        model = NAMES[name]
        t0 = time.perf_counter()
        self.service.run_sync(model, self.data)
        self.first_call_s[name] = time.perf_counter() - t0
        loaded = self.service.pool._loaded.get(model)
        self.clock.wrap(loaded, "prepare", "prepare")  # decode + pre-process, on a preparation thread
        self.clock.wrap(loaded.family, "prepare", "preprocess")
        self.clock.wrap(loaded.family, "run", "onnxruntime")  # in the inference slot (batched or not)
        self.clock.wrap(loaded.family, "finish", "postprocess")

    def once(self, name: str) -> dict[str, float]:
        self.clock.take()
        t0 = time.perf_counter()
        self.service.run_sync(NAMES[name], self.data)
        total = time.perf_counter() - t0
        s = self.clock.take()
        return {
            "decode": s["prepare"] - s["preprocess"],
            "preprocess": s["preprocess"],
            "onnxruntime": s["onnxruntime"],
            "postprocess": s["postprocess"],
            "service overhead": total - s["prepare"] - s["onnxruntime"] - s["postprocess"],
            "total": total,
        }

    def output(self, name: str) -> list[dict[str, Any]]:
        return self.service.run_sync(NAMES[name], self.data, AGREEMENT_PARAMS[name]).result

    def close(self) -> None:
        self.service.close()


class Reference:
    """bench_transformers.py --stdio under the reference interpreter: one timed pipeline request per call."""

    def __init__(self, names: list[str], image: Path) -> None:
        cmd = [
            str(REF_PYTHON),
            str(HERE / "bench_transformers.py"),
            "--image",
            str(image),
            "--only",
            ",".join(names),
            "--stdio",
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.header = self._read(timeout=300)
        if "skipped" not in self.header:
            self._read(timeout=300)  # {"ready": [...]}

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def _read(self, timeout: float) -> Any:
        """The next answer line; bounded, so a stuck child cannot hang the bench."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line:
            raise RuntimeError("bench_transformers.py stopped answering")
        return json.loads(line)

    def ask(self, verb: str, name: str) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{verb} {name}\n")
        self.proc.stdin.flush()
        answer = self._read(timeout=300)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"bench_transformers.py: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_reference(names: list[str]) -> tuple[Reference | None, str | None]:
    if not REF_PYTHON.exists():
        return None, f"no reference interpreter at {REF_PYTHON} (set BENCH_REF_PYTHON)"
    try:
        ref = Reference(names, CATS)
    except (OSError, RuntimeError, ValueError) as e:
        return None, f"bench_transformers.py did not start: {e}"
    if "skipped" in ref.header:
        ref.close()
        return None, ref.header["skipped"]
    return ref, None


def bench(
    name: str, emu: Emulator, ref: Reference | None, runs: int, warmup: int, max_seconds: float
) -> dict[str, Any]:
    """Warm both up, then alternate one emulator and one transformers request (order flipped every round)."""
    emu.load(name)
    for _ in range(max(0, warmup - 1)):
        emu.once(name)
    for _ in range(warmup if ref else 0):
        ref.ask("run", name)
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    started = time.perf_counter()
    for i in range(runs):
        sides = [("emu", emu), ("ref", ref)] if i % 2 == 0 else [("ref", ref), ("emu", emu)]
        for side, _ in sides:
            if side == "emu":
                for k, v in emu.once(name).items():
                    ours.setdefault(k, []).append(v)
            elif ref is not None:
                for k, v in ref.ask("run", name).items():
                    theirs.setdefault(k, []).append(v)
        if time.perf_counter() - started > max_seconds:
            break
    row: dict[str, Any] = {
        "served_as": NAMES[name],
        "first_call_s": emu.first_call_s[name],
        "emulator": {p: summary(v) for p, v in ours.items()},
    }
    if ref is not None:
        about = ref.ask("describe", name)
        row["transformers"] = {p: summary(theirs[r]) for p, r in REF_PHASES.items()}
        row["transformers_pipeline"] = f"{about['pipeline']} + {about['image_processor']}"
        row["torch_threads"] = about["torch_threads"]
        row["ratio_total_median"] = row["emulator"]["total"]["median_ms"] / row["transformers"]["total"]["median_ms"]
        row["ratio_total_min"] = row["emulator"]["total"]["min_ms"] / row["transformers"]["total"]["min_ms"]
        row["agreement"] = {
            "params": AGREEMENT_PARAMS[name],
            **agreement(name, emu.output(name), ref.ask("output", name)),
        }
    print(f"{name}: {len(ours['total'])} interleaved runs", file=sys.stderr, flush=True)
    return row


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
            (abs(a["box"][k] - b["box"][k]) for a, b in pairs for k in ("xmin", "ymin", "xmax", "ymax")), default=0
        )
    return result


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x:8.1f}"


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nInference latency on {Path(report['image']).name} ({report['machine']['cpus']} cores); "
        f"median / p90 in ms over the timed runs\n"
    )
    header = (
        f"{'model':8} {'phase':17} {'emulator p50':>12} {'p90':>8} {'transformers p50':>17} {'p90':>8} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, row in report["models"].items():
        for phase in PHASES:
            ours = row["emulator"][phase]
            ref = row.get("transformers", {}).get(phase)
            ratio = f"{ours['median_ms'] / ref['median_ms']:6.2f}" if ref and ref["median_ms"] > 0 else "     -"
            print(
                f"{name:8} {phase:17} {ms(ours['median_ms']):>12} {ms(ours['p90_ms']):>8} "
                f"{ms(ref and ref['median_ms']):>17} {ms(ref and ref['p90_ms']):>8} {ratio}"
            )
        if "ratio_total_min" in row:
            print(
                f"{'':8} fastest run: emulator {row['emulator']['total']['min_ms']:.1f} ms, transformers "
                f"{row['transformers']['total']['min_ms']:.1f} ms, ratio {row['ratio_total_min']:.2f}"
            )
        agree = row.get("agreement")
        if agree:
            extra = f", max box diff {agree['max_box_diff_px']} px" if "max_box_diff_px" in agree else ""
            print(
                f"{'':8} agreement ({agree['params']}): {agree['items'][0]} vs {agree['items'][1]} items, "
                f"labels equal {agree['labels_equal']}, max score diff {agree['max_score_diff']:.2e}{extra}"
            )
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
        print(
            f"skipped: no bench models in {MODELS}; build them first with\n"
            f"  HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/build_models.py"
        )
        return 0
    data = CATS.read_bytes()
    load_before = os.getloadavg()
    ref, skipped = (None, "--no-transformers") if args.no_transformers else start_reference(names)
    if skipped:
        print(f"transformers reference skipped: {skipped}", file=sys.stderr)
    emu = Emulator(names, data)
    models: dict[str, Any] = {}
    try:
        for name in names:
            models[name] = bench(name, emu, ref, args.runs, args.warmup, args.max_seconds)
    finally:
        emu.close()
        if ref is not None:
            ref.close()
    import numpy
    import onnxruntime

    report: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "image": str(CATS.relative_to(REPO.parent)),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "versions": {
            "onnxruntime": onnxruntime.__version__,
            "numpy": numpy.__version__,
            **((ref.header.get("versions") or {}) if ref else {}),
        },
        "settings": {
            "runs": args.runs,
            "warmup": args.warmup,
            "intra_op_threads": emu.settings.intra_op_threads,
            "interleaved": ref is not None,
        },
        "models": models,
    }
    if skipped:
        report["transformers_skipped"] = skipped
    print_table(report)
    out = args.out or HERE / "results" / f"{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
