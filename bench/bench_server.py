"""The real server under load: does inference keep the event loop free, and what throughput does it give?

    .venv/bin/python bench/bench_server.py [--requests 8] [--clients 4]

Starts the real app (`create_app(AppContext(settings, service))` under uvicorn, loopback, in a child process so
the client's own Python does not share the server's GIL) with the full-size random-weight DETR from
bench/.models/detr served as @cf/facebook/detr-resnet-50. Then, for each scenario, fires a bounded number of
`POST /client/v4/accounts/bench/ai/run/@cf/facebook/detr-resnet-50` requests (raw image bytes) from N
concurrent clients while a probe polls `GET /cdn-cgi/emu/health` and a loop-only `GET /bench/ping` (a route
this script adds); compares the probes' latency with an idle baseline. Prints a table; writes
bench/results/<date>-server.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

MODEL_DIR = HERE / ".models" / "detr"
CATS = REPO.parent / "shared" / "images" / "coco-000000039769-cats.png"
MODEL = "@cf/facebook/detr-resnet-50"
RUN_PATH = f"/client/v4/accounts/bench/ai/run/{MODEL}"
HEALTH_PATH = "/cdn-cgi/emu/health"  # the emulator's own cheap endpoint (two short thread hops)
PING_PATH = "/bench/ping"  # added by this script only: answered on the event loop alone
PROBE_EVERY_S = 0.05
IDLE_PROBES = 100
PHASE_DEADLINE_S = 120.0  # no scenario runs longer than this, whatever the request count


# ---------------------------------------------------------------------------------------------- server side
def serve(max_concurrent: int, threads: int, state_dir: Path) -> None:
    """Child process: the real app on a free loopback port; prints the port, serves until terminated."""
    import uvicorn

    from runtime.http.app import AppContext, create_app
    from runtime.service import InferenceService
    from runtime.settings import EmulatorSettings, Settings

    emulator = EmulatorSettings(
        state_dir=state_dir, auto_pull=False, max_concurrent_inferences=max_concurrent, intra_op_threads=threads
    )
    settings = Settings(models=[{"name": MODEL, "path": str(MODEL_DIR)}], emulator=emulator)
    service = InferenceService.from_settings(settings)
    app = create_app(AppContext(settings, service))

    async def ping(request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("pong")

    from starlette.routing import Route

    app.router.routes.insert(0, Route(PING_PATH, ping, methods=["GET"]))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])


class Server:
    """The child server process, started and stopped by this script only."""

    def __init__(self, max_concurrent: int, threads: int) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="emu-bench-server-"))
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            str(max_concurrent),
            str(threads),
            str(self.state),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError("bench server did not start")
        self.base = f"http://127.0.0.1:{int(line)}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# ---------------------------------------------------------------------------------------------- client side
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": statistics.median(values) * 1000,
        "p90_ms": pct(values, 90) * 1000,
        "p99_ms": pct(values, 99) * 1000,
        "max_ms": max(values) * 1000,
    }


async def wait_ready(client: Any, base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if (await client.get(base + HEALTH_PATH)).status_code == 200:
                return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("bench server never answered its health check")
        await asyncio.sleep(0.1)


async def raw_get(base: str, path: str) -> int:
    """One GET on a fresh TCP_NODELAY connection; the status code.

    Not httpx: over a kept-alive loopback connection its small GETs regularly hit the ~40 ms delayed-ACK stall,
    which would hide the server's own latency.
    """
    host, port = base.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 30)
    try:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


async def probe(base: str, stop: asyncio.Event, limit: int) -> dict[str, list[float]]:
    """Every PROBE_EVERY_S, time one health and one ping request, until told to stop (at most `limit` rounds)."""
    out: dict[str, list[float]] = {"health": [], "ping": []}
    while not stop.is_set() and len(out["ping"]) < limit:
        for key, path in (("health", HEALTH_PATH), ("ping", PING_PATH)):
            t0 = time.perf_counter()
            status = await raw_get(base, path)
            out[key].append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        try:
            await asyncio.wait_for(stop.wait(), PROBE_EVERY_S)
        except TimeoutError:
            pass
    return out


async def load(client: Any, base: str, data: bytes, requests: int, clients: int) -> dict[str, Any]:
    """`requests` inference calls from `clients` concurrent clients, with the health probe running alongside."""
    todo = iter(range(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + PHASE_DEADLINE_S

    async def worker() -> None:
        for _ in todo:
            if time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            r = await client.post(base + RUN_PATH, content=data, headers={"content-type": "image/png"})
            latencies.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    stop = asyncio.Event()
    prober = asyncio.create_task(probe(base, stop, 10_000))
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - t0
    stop.set()
    probes = await prober
    return {
        "clients": clients,
        "requests": len(latencies),
        "statuses": statuses,
        "wall_s": wall,
        "throughput_rps": len(latencies) / wall,
        "request_latency": latency(latencies),
        "health_during_load": latency(probes["health"]),
        "ping_during_load": latency(probes["ping"]),
    }


async def scenario(max_concurrent: int, threads: int, data: bytes, runs: list[tuple[int, int]]) -> dict[str, Any]:
    import httpx

    server = Server(max_concurrent, threads)
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=httpx.Timeout(300.0), limits=limits) as client:
            await wait_ready(client, server.base)
            t0 = time.perf_counter()
            r = await client.post(server.base + RUN_PATH, content=data, headers={"content-type": "image/png"})
            if r.status_code != 200:
                raise RuntimeError(f"first inference answered {r.status_code}: {r.text[:300]}")
            first = time.perf_counter() - t0
            await probe(server.base, asyncio.Event(), 5)  # the first answers are cold (~40 ms)
            idle = await probe(server.base, asyncio.Event(), IDLE_PROBES)
            results = []
            for requests, clients in runs:
                results.append(await load(client, server.base, data, requests, clients))
                print(
                    f"  server max_concurrent_inferences={max_concurrent} intra_op_threads={threads}, "
                    f"{clients} client(s): "
                    f"{results[-1]['throughput_rps']:.2f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.stop()
    return {
        "max_concurrent_inferences": max_concurrent,
        "intra_op_threads": threads,
        "first_request_s": first,
        "health_idle": latency(idle["health"]),
        "ping_idle": latency(idle["ping"]),
        "loads": results,
    }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nServer under load: {MODEL} (full-size random-weight DETR) on {report['machine']['cpus']} cores, "
        f"REST door, cats photo. Probe latency in ms: health = {HEALTH_PATH}, ping = {PING_PATH} (loop only)\n"
    )
    header = (
        f"{'slots x threads':>15} {'clients':>7} {'reqs':>5} {'req/s':>6} {'req p50 ms':>10} "
        f"{'health p50':>10} {'p99':>6} {'ping p50':>8} {'p99':>6} {'max':>6}"
    )
    print(header)
    print("-" * len(header))
    for s in report["scenarios"]:
        slots = f"{s['max_concurrent_inferences']} x {s['intra_op_threads']}"
        h, p = s["health_idle"], s["ping_idle"]
        print(
            f"{slots:>15} {'idle':>7} {'':>5} {'':>6} {'':>10} {h['p50_ms']:10.1f} {h['p99_ms']:6.1f} "
            f"{p['p50_ms']:8.1f} {p['p99_ms']:6.1f} {p['max_ms']:6.1f}"
        )
        for run in s["loads"]:
            h, p = run["health_during_load"], run["ping_during_load"]
            print(
                f"{slots:>15} {run['clients']:>7} {run['requests']:>5} {run['throughput_rps']:6.2f} "
                f"{run['request_latency']['p50_ms']:10.0f} {h['p50_ms']:10.1f} {h['p99_ms']:6.1f} "
                f"{p['p50_ms']:8.1f} {p['p99_ms']:6.1f} {p['max_ms']:6.1f}"
            )
            if set(run["statuses"]) != {200}:
                print(f"{'':15} statuses: {run['statuses']}")
    print()


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="inference requests per load run")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the concurrent runs")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/<date>-server.json)")
    args = parser.parse_args()
    if not CATS.exists():
        print(f"skipped: needs {CATS} (../shared is not beside this checkout)")
        return 0
    if not (MODEL_DIR / "onnx" / "model.onnx").is_file():
        print(
            f"skipped: no bench DETR in {MODEL_DIR}; build it first with\n"
            f"  HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/build_models.py --only detr"
        )
        return 0
    from runtime.settings import EmulatorSettings

    default = EmulatorSettings()
    data = CATS.read_bytes()
    load_before = os.getloadavg()
    n, c = max(1, args.requests), max(1, args.clients)
    slots, threads = default.max_concurrent_inferences, default.intra_op_threads
    # the defaults with 1 and with `c` clients; then two parallel inferences, oversubscribed and not
    scenarios = [asyncio.run(scenario(slots, threads, data, [(n, 1), (n, c)]))]
    for more in sorted({(2, threads), (2, 1)} - {(slots, threads)}, reverse=True):
        scenarios.append(asyncio.run(scenario(*more, data, [(n, c)])))
    report = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "model": MODEL,
        "image": str(CATS.relative_to(REPO.parent)),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "defaults": {
            "max_concurrent_inferences": default.max_concurrent_inferences,
            "intra_op_threads": default.intra_op_threads,
            "max_queue": default.max_queue,
        },
        "probe": {"paths": [HEALTH_PATH, PING_PATH], "every_s": PROBE_EVERY_S, "idle_probes": IDLE_PROBES},
        "scenarios": scenarios,
    }
    print_table(report)
    out = args.out or HERE / "results" / f"{dt.date.today().isoformat()}-server.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
