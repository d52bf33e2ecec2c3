"""The performance figures in one run: every door against bare onnxruntime, load, memory, start-up, int8.

    .venv/bin/python bench/benchmark.py            # make bench; ~10 min on 2 cores
    .venv/bin/python bench/benchmark.py --only resnet --runs 5 --no-quantize

Needs the full-size random-weight stand-ins in bench/.models (bench/build_models.py) and the cats photo in
../shared; says so and stops when they are missing. What it does, all against one real `workers-ai-emu dev`
process (child, loopback) serving the three stand-ins under their catalog names and a small bench Worker:
- **floor**: a bare onnxruntime session (intra-op threads = cores, inter-op 1, no spinning) on the ready tensor
  that the model's own pre-processing makes of the cats PNG, in this process;
- **doors**, interleaved run by run with the floor (these machines are shared and noisy, so ratios come from one
  run): REST raw body, REST JSON `{"image": [...]}`, the Hugging Face door, and the Worker's `env.AI.run`;
- **load**: 1, 4 and 16 concurrent clients on the REST door (raw): throughput, p50, p99, errors, and the health
  endpoint's latency meanwhile; against the best bare-onnxruntime throughput (one session on all cores, or one
  per core on one thread each);
- **memory**: the server's RSS with the models loaded against their ONNX bytes, and again after the load and
  `--rss-requests` more requests;
- **start-up**: process launch to the first healthy answer;
- **FLOPs**: the graph's multiply-adds on the ready tensor's shape, the floor's GFLOP/s and its fraction of the
  machine's FP32 peak (cores x clock x 64 FLOPs per cycle: two AVX-512 FMA units);
- **int8** (unless `--no-quantize`): `quantize_folder` on a copy of each model, calibrated on the cats photo
  and the test images: speed ratio against FP32 and how far the outputs move.
Prints the tables and writes bench/results/<date>-benchmark.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from bench_inference import pct  # nearest-rank percentile, one definition for the bench scripts

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

MODELS = HERE / ".models"
CATS = REPO.parent / "shared" / "images" / "coco-000000039769-cats.png"
FIXTURE_IMAGES = REPO / "tests" / "fixtures" / "images"
NAMES = {
    "detr": ("@cf/facebook/detr-resnet-50", "facebook/detr-resnet-50", "object-detection"),
    "resnet": ("@cf/microsoft/resnet-50", "microsoft/resnet-50", "image-classification"),
    "vit": ("google/vit-base-patch16-224", "google/vit-base-patch16-224", "image-classification"),
}
CORES = os.cpu_count() or 1

WORKER = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        model = request.headers.get("x-model")
        image = await request.bytes()
        result = await self.env.AI.run(model, {"image": list(image)})
        return Response.json(result)
"""


# ------------------------------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_gflops() -> tuple[float, float]:
    """Cores x clock x 64 FP32 FLOPs per cycle (2 AVX-512 FMA units x 16 lanes x 2), and the clock in GHz."""
    mhz = [float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines() if "cpu MHz" in line]
    ghz = (max(mhz) / 1000) if mhz else 2.0
    return CORES * ghz * 64, ghz


def graph_flops(path: Path, feeds: dict[str, np.ndarray]) -> float:
    """2 x multiply-adds of the Conv, MatMul and Gemm nodes, shapes inferred for these feeds."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path))
    for value in model.graph.input:
        if value.name in feeds:
            dims = value.type.tensor_type.shape.dim
            for d, n in zip(dims, feeds[value.name].shape):
                d.Clear()
                d.dim_value = int(n)
    model = shape_inference.infer_shapes(model, data_prop=True)
    shapes: dict[str, list[int]] = {}
    for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in v.type.tensor_type.shape.dim]
        shapes[v.name] = dims
    for t in model.graph.initializer:
        shapes[t.name] = list(t.dims)
    flops = 0.0
    for node in model.graph.node:
        if node.op_type == "Conv" and node.output[0] in shapes and node.input[1] in shapes:
            out, w = shapes[node.output[0]], shapes[node.input[1]]
            if all(out) and all(w):
                flops += 2 * np.prod(out, dtype=np.float64) * np.prod(w[1:], dtype=np.float64)
        elif node.op_type in ("MatMul", "Gemm") and all(i in shapes for i in node.input[:2]):
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            if a and b and all(a) and all(b):
                k = a[-1] if node.op_type == "MatMul" else (a[0] if _attr(node, "transA") else a[-1])
                out = shapes.get(node.output[0]) or []
                if out and all(out):
                    flops += 2 * np.prod(out, dtype=np.float64) * k
    return flops


def _attr(node: Any, name: str) -> int:
    return next((a.i for a in node.attribute if a.name == name), 0)


# ----------------------------------------------------------------------------------------------- the floor
class Floor:
    """Bare onnxruntime on the ready tensor: the best options found (inter-op 1, no spinning)."""

    def __init__(self, onnx_path: Path, feeds: dict[str, np.ndarray], threads: int = CORES) -> None:
        import onnxruntime as ort

        self.path, self.feeds = onnx_path, feeds
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])

    def once(self) -> float:
        t0 = time.perf_counter()
        self.session.run(None, self.feeds)
        return time.perf_counter() - t0

    def best_throughput(self, seconds: float) -> dict[str, float]:
        """Requests per second: one session on all cores in a loop, or one single-thread session per core."""
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            self.session.run(None, self.feeds)
            n += 1
        sequential = n / (time.perf_counter() - t0)
        singles = [Floor(self.path, self.feeds, threads=1) for _ in range(CORES)]
        counts = [0] * CORES
        stop = time.perf_counter() + seconds

        def loop(i: int) -> None:
            while time.perf_counter() < stop:
                singles[i].session.run(None, self.feeds)
                counts[i] += 1

        t0 = time.perf_counter()
        threads = [threading.Thread(target=loop, args=(i,)) for i in range(CORES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel = sum(counts) / (time.perf_counter() - t0)
        return {"one_session_rps": sequential, "session_per_core_rps": parallel, "best_rps": max(sequential, parallel)}


# ------------------------------------------------------------------------------------------------- server
class Server:
    def __init__(self, models: list[str], workdir: Path, max_batch: int = 1, settings: list[str] = ()) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (workdir / "bench_worker.py").write_text(WORKER)
        lines = [
            'name = "bench"',
            'main = "bench_worker.py"',
            "[ai]",
            'binding = "AI"',
            "[emulator]",
            'state_dir = ".emu"',
            'weights = "real"',
            "auto_pull = false",
            "reload = false",
            "max_queue = 256",
            *settings,
        ]
        for m in models:
            lines += ["[[ai.models]]", f'name = "{NAMES[m][0]}"', f'path = "{MODELS / m}"', f"max_batch = {max_batch}"]
        (workdir / "wrangler-like.toml").write_text("\n".join(lines) + "\n")
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runtime", "dev", "--config", str(workdir / "wrangler-like.toml")]
            + ["--port", str(self.port), "--no-reload"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/cdn-cgi/emu/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit("the emulator did not become healthy within 60 s")
            time.sleep(0.01)
        self.startup_s = time.perf_counter() - t0

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def door_requests(model: str, png: bytes) -> dict[str, tuple[str, str, bytes, dict[str, str]]]:
    name, hf_id, _ = NAMES[model]
    as_json = orjson.dumps({"image": list(png)})
    return {
        "REST raw": ("POST", f"/client/v4/accounts/bench/ai/run/{name}", png, {"content-type": "image/png"}),
        "REST JSON": (
            "POST",
            f"/client/v4/accounts/bench/ai/run/{name}",
            as_json,
            {"content-type": "application/json"},
        ),
        "HF raw": (
            "POST",
            f"/hf-inference/models/{hf_id}",
            png,
            {"content-type": "image/png", "x-use-cache": "false"},  # the door's result cache would answer at once
        ),
        "Worker env.AI.run": ("POST", "/", png, {"content-type": "image/png", "x-model": name}),
    }


def timed(client: httpx.Client, request: tuple[str, str, bytes, dict[str, str]]) -> float:
    method, path, body, headers = request
    t0 = time.perf_counter()
    r = client.request(method, path, content=body, headers=headers)
    elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return elapsed


async def load(base: str, request: tuple[str, str, bytes, dict[str, str]], clients: int, total: int) -> dict[str, Any]:
    method, path, body, headers = request
    latencies: list[float] = []
    errors = 0
    health: list[float] = []
    remaining = total
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=httpx.Limits(max_connections=clients + 4)) as http:

        async def client() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                r = await http.request(method, path, content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code != 200

        async def probe() -> None:
            while not done.is_set():
                t0 = time.perf_counter()
                await http.get("/cdn-cgi/emu/health")
                health.append(time.perf_counter() - t0)
                await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
        done.set()
        await prober
    return {
        "clients": clients,
        "requests": len(latencies),
        "throughput_rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "errors": errors,
        "health_p99_ms": pct(health, 99) * 1000 if health else None,
        "health_max_ms": max(health) * 1000 if health else None,
    }


# --------------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="detr,resnet,vit")
    parser.add_argument("--runs", type=int, default=10, help="timed requests per door and model (interleaved)")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument(
        "--load-requests", type=int, default=48, help="requests per load scenario (at least 2x clients)"
    )
    parser.add_argument("--rss-requests", type=int, default=1000, help="ResNet requests between the RSS readings")
    parser.add_argument("--no-quantize", action="store_true")
    parser.add_argument("--batching-only", action="store_true", help="only the batching comparison")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="an [emulator] setting for the server (TOML)"
    )
    parser.add_argument(
        "--batch", type=int, default=4, help="max_batch for the batching comparison under the largest load (1: skip)"
    )
    args = parser.parse_args()
    models = [m for m in args.only.split(",") if m]
    missing = [m for m in models if not (MODELS / m / "onnx" / "model.onnx").is_file()]
    if missing or not CATS.is_file():
        print(f"skipped: needs bench/.models/{{{','.join(missing)}}} (bench/build_models.py) and {CATS}")
        return
    from runtime.tasks import load_model

    png = CATS.read_bytes()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": CORES, "python": platform.python_version(), "platform": platform.platform()},
        "models": {},
    }
    peak, ghz = peak_gflops()
    results["machine"].update({"clock_ghz": ghz, "fp32_peak_gflops": peak})
    if args.batching_only:
        results["batching"] = batching(models, png, args)
        report(results)
        return
    workdir = Path(tempfile.mkdtemp(prefix="emu-benchmark-"))
    server = Server(models, workdir, settings=args.set)
    results["settings"] = args.set
    results["startup_to_health_s"] = server.startup_s
    onnx_bytes = sum((MODELS / m / "onnx" / "model.onnx").stat().st_size for m in models)
    try:
        with httpx.Client(base_url=server.base, timeout=300) as client:
            for m in models:  # load every model (first requests), then read the RSS
                timed(client, door_requests(m, png)["REST raw"])
            results["rss"] = {"onnx_mib": onnx_bytes / 2**20, "loaded_mib": rss_mib(server.proc.pid)}
            for m in models:
                name, _, task = NAMES[m]
                local = load_model(MODELS / m, task=task)
                ready = local.prepare(png).feeds
                floor = Floor(local.onnx_path, ready)
                floor.once()
                doors = door_requests(m, png)
                for request in doors.values():
                    timed(client, request)  # warm-up
                times: dict[str, list[float]] = {"floor": [], **{d: [] for d in doors}}
                for _ in range(args.runs):
                    times["floor"].append(floor.once())
                    for d, request in doors.items():
                        times[d].append(timed(client, request))
                medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
                flops = graph_flops(local.onnx_path, ready)
                entry: dict[str, Any] = {
                    "name": name,
                    "input": list(next(iter(ready.values())).shape),
                    "median_ms": medians,
                    "ratio_to_floor": {d: medians[d] / medians["floor"] for d in doors},
                    "gflop": flops / 1e9,
                    "floor_gflops": flops / 1e9 / (medians["floor"] / 1000),
                    "floor_fraction_of_peak": flops / 1e9 / (medians["floor"] / 1000) / peak,
                }
                bare = floor.best_throughput(seconds=max(3.0, 12 * medians["floor"] / 1000))
                scenarios = []
                for c in (int(x) for x in args.clients.split(",")):
                    total = max(args.load_requests, 2 * c)
                    scenarios.append(asyncio.run(load(server.base, doors["REST raw"], c, total)))
                top = scenarios[-1]
                entry["load"] = {
                    "bare_onnxruntime": bare,
                    "scenarios": scenarios,
                    "throughput_vs_best_bare": top["throughput_rps"] / bare["best_rps"],
                    "p99_vs_fair_share": top["p99_ms"] / (top["clients"] * medians["REST raw"]),
                }
                results["models"][m] = entry
                del local, floor
            results["rss"]["after_load_mib"] = rss_mib(server.proc.pid)
            if "resnet" in models and args.rss_requests:
                request = door_requests("resnet", png)["REST raw"]
                for _ in range(args.rss_requests):
                    timed(client, request)
                results["rss"]["after_more_requests_mib"] = rss_mib(server.proc.pid)
                results["rss"]["more_requests"] = args.rss_requests
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.batch > 1:
        results["batching"] = batching(models, png, args)
    r = results["rss"]
    r["limit_mib"] = 1.5 * r["onnx_mib"] + 400
    if "after_more_requests_mib" in r:
        r["drift"] = r["after_more_requests_mib"] / r["after_load_mib"] - 1
    if not args.no_quantize:
        results["int8"] = quantized(models, png)
    report(results)
    out = HERE / "results" / f"{dt.date.today().isoformat()}-benchmark.json"
    out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"\nwrote {out}")


def batching(models: list[str], png: bytes, args: argparse.Namespace) -> dict[str, Any]:
    """The largest load on a server whose models batch (max_batch) and on one whose models do not, one after the
    other, per model."""
    clients = max(int(x) for x in args.clients.split(","))
    out: dict[str, Any] = {"max_batch": args.batch, "clients": clients}
    servers = {}
    for size in (1, args.batch):
        workdir = Path(tempfile.mkdtemp(prefix="emu-benchmark-batch-"))
        servers[size] = (Server(models, workdir, max_batch=size, settings=args.set), workdir)
    try:
        for server, _ in servers.values():
            with httpx.Client(base_url=server.base, timeout=300) as client:
                for m in models:
                    timed(client, door_requests(m, png)["REST raw"])
        for m in models:
            total = max(args.load_requests, 2 * clients)
            out[m] = {
                ("batched" if size > 1 else "unbatched"): asyncio.run(
                    load(server.base, door_requests(m, png)["REST raw"], clients, total)
                )
                for size, (server, _) in servers.items()
            }
    finally:
        for server, workdir in servers.values():
            server.close()
            shutil.rmtree(workdir, ignore_errors=True)
    return out


def quantized(models: list[str], png: bytes) -> dict[str, Any]:
    from runtime.inference.quantize import quantize_folder

    images = [png] + [p.read_bytes() for p in sorted(FIXTURE_IMAGES.iterdir())][:7]
    out: dict[str, Any] = {}
    for m in models:
        with tempfile.TemporaryDirectory(prefix="emu-int8-") as tmp:
            folder = Path(tmp) / m
            shutil.copytree(MODELS / m, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
            _, _, task = NAMES[m]
            t0 = time.perf_counter()
            params = {"threshold": 0.0} if task == "object-detection" else {}  # random weights: compare every query
            rep = quantize_folder(folder, task, images, intra_op_threads=CORES, repeats=3, params=params)
            out[m] = {**rep.as_json(), "seconds": time.perf_counter() - t0}
    return out


def report(results: dict[str, Any]) -> None:
    if "startup_to_health_s" not in results:  # --batching-only
        results["models"] = {m: None for m in results["batching"] if m in NAMES}
        return _batching_table(results)
    print(f"\nstart-up to health: {results['startup_to_health_s']:.2f} s")
    print(
        "\n| model | floor ms | REST raw | REST JSON | HF raw | Worker | 16 clients vs best bare | p99 / fair share |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for m, e in results["models"].items():
        r = e["ratio_to_floor"]
        print(
            f"| {m} | {e['median_ms']['floor']:.1f} | {r['REST raw']:.2f}x | {r['REST JSON']:.2f}x | {r['HF raw']:.2f}x "
            f"| {r['Worker env.AI.run']:.2f}x | {e['load']['throughput_vs_best_bare']:.2f}x | "
            f"{e['load']['p99_vs_fair_share']:.2f} |"
        )
    print("\n| model | clients | req/s | p50 ms | p99 ms | errors | health p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for m, e in results["models"].items():
        for s in e["load"]["scenarios"]:
            print(
                f"| {m} | {s['clients']} | {s['throughput_rps']:.2f} | {s['p50_ms']:.0f} | {s['p99_ms']:.0f} | "
                f"{s['errors']} | {s['health_p99_ms']:.0f} |"
            )
        b = e["load"]["bare_onnxruntime"]
        print(
            f"| {m} | bare ORT | {b['best_rps']:.2f} (one session {b['one_session_rps']:.2f}, per core {b['session_per_core_rps']:.2f}) | | | | |"
        )
    print("\n| model | input | GFLOP | floor GFLOP/s | of FP32 peak |")
    print("|---|---|---|---|---|")
    for m, e in results["models"].items():
        print(
            f"| {m} | {e['input']} | {e['gflop']:.1f} | {e['floor_gflops']:.0f} | "
            f"{100 * e['floor_fraction_of_peak']:.0f} % of {results['machine']['fp32_peak_gflops']:.0f} |"
        )
    r = results["rss"]
    print(
        f"\nRSS: {r['loaded_mib']:.0f} MiB with the models loaded ({r['onnx_mib']:.0f} MiB of ONNX; limit "
        f"{r['limit_mib']:.0f}), {r['after_load_mib']:.0f} after the load"
        + (
            f", {r['after_more_requests_mib']:.0f} after {r['more_requests']} more ({100 * r['drift']:+.1f} %)"
            if "drift" in r
            else ""
        )
    )
    _batching_table(results)
    if "int8" in results:
        print("\n| model | method | FP32 ms | int8 ms | speed | outputs against FP32 |")
        print("|---|---|---|---|---|---|")
        for m, q in results["int8"].items():
            agreement = ", ".join(
                f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in q["agreement"].items()
            )
            print(
                f"| {m} | {q['method']} | {q['fp32_ms']:.1f} | {q['int8_ms']:.1f} | {q['speed_ratio']:.2f}x | {agreement} |"
            )


def _batching_table(results: dict[str, Any]) -> None:
    if "batching" not in results:
        return
    b = results["batching"]
    print(
        f"\n| model | {b['clients']} clients unbatched req/s | max_batch {b['max_batch']} req/s | ratio | p99 ms | errors |"
    )
    print("|---|---|---|---|---|---|")
    for m in results["models"]:
        plain, batched = b[m]["unbatched"], b[m]["batched"]
        print(
            f"| {m} | {plain['throughput_rps']:.2f} | {batched['throughput_rps']:.2f} | "
            f"{batched['throughput_rps'] / plain['throughput_rps']:.2f}x | {batched['p99_ms']:.0f} | {batched['errors']} |"
        )


if __name__ == "__main__":
    main()
