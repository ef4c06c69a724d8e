"""Serving latency: in-process single-image predictions, and HTTP throughput under concurrent clients.

    python bench/serve_latency.py --checkpoint runs/fashion-mnist/mlp_adam_lr0.001_noaug_seed0 --json serve.json

1. In process: `Predictor.predict(photo bytes)` one image at a time, preprocessing included (decode, EXIF,
   grayscale, background inversion, crop, pad, resize, normalize, forward, softmax, top-3), p50/p99 over
   --images photos, for two kinds of input: the dataset's own 28x28 test images as PNG, and 320x240 JPEG
   "camera frames" (a test image turned into a dark product on light paper, off-centre, as the web page sends).
2. HTTP: `bakeoff serve` in a subprocess on loopback, --clients concurrent keep-alive clients POSTing camera
   frames (or, --http-input png, the 28x28 test images) to /v1/predict for --seconds; requests/s, p50/p99 per
   back end (PyTorch, ONNX Runtime) and per --batch-window-ms. With several windows and --rounds N the servers
   take turns (0, 2, 0, 2, ...: a neighbour's load falls on both alike) and the medians are compared:

    python bench/serve_latency.py --checkpoint RUN --skip-in-process --batch-window-ms 0,2 --rounds 3 --seconds 15

   --baseline-src DIR adds, taking turns with them, the server of another checkout (its src/ folder: a git
   worktree of an older commit) on asyncio's event loop, as bakeoff served before uvloop was a dependency:

    git worktree add /tmp/before 06a33a8
    python bench/serve_latency.py --checkpoint RUN --skip-in-process --runtimes torch --batch-window-ms 10 \
        --baseline-src /tmp/before/src --rounds 3 --seconds 15 --http-input png

The client runs on the same machine as the server, so both compete for the cores: numbers are for the
whole loop, a lower bound for a server with the machine to itself.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
from PIL import Image
from results_file import write_json


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"n": len(a), "p50_ms": round(float(np.percentile(a, 50)), 4), "p99_ms": round(float(np.percentile(a, 99)), 4),
            "mean_ms": round(float(a.mean()), 4)}


def test_images(pre: dict, data_dir: str | None, n: int) -> np.ndarray:
    """uint8 (n, S, S) grayscale test images of the checkpoint's dataset (random shapes when not found)."""
    from bakeoff.data import load_dataset
    from bakeoff.errors import BakeoffError

    try:
        ds = load_dataset(pre["dataset"], data_dir=data_dir, download=False, quiet=True)
        return ds.x_test[:n, 0].numpy()
    except BakeoffError:
        print(f"note: {pre['dataset']} not found; using random light-on-dark rectangles", file=sys.stderr)
        rng = np.random.default_rng(0)
        s = pre["img_size"]
        x = np.zeros((n, s, s), dtype=np.uint8)
        for i in range(n):
            h, w = rng.integers(s // 3, s, size=2)
            x[i, (s - h) // 2:(s + h) // 2, (s - w) // 2:(s + w) // 2] = rng.integers(120, 255)
        return x


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def camera_frame(a: np.ndarray, rng) -> bytes:
    """A 320x240 JPEG: the image as a dark product on unevenly lit paper, off-centre, with sensor noise."""
    obj = np.asarray(Image.fromarray(255 - a).resize((160, 160), Image.Resampling.BICUBIC), dtype=np.float32)
    page = np.linspace(220, 248, 320, dtype=np.float32)[None, :] * np.ones((240, 1), dtype=np.float32)
    y, x = rng.integers(0, 80), rng.integers(0, 160)
    page[y:y + 160, x:x + 160] *= obj / 255
    page = np.clip(page + rng.normal(0, 3, page.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(page).convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def in_process(checkpoint: str, runtime: str, inputs: dict[str, list[bytes]]) -> dict:
    from bakeoff.serve.predictor import Predictor

    predictor = Predictor.load([checkpoint], runtime=runtime, threads=1)
    out = {}
    for kind, photos in inputs.items():
        for photo in photos[:20]:  # warm-up: allocator, first-call paths
            predictor.predict(photo, 3)
        ms = []
        for photo in photos:
            t = time.perf_counter()
            predictor.predict(photo, 3)
            ms.append(1000 * (time.perf_counter() - t))
        out[kind] = percentiles(ms)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def client(port: int, bodies: list[bytes], stop_at: float, record_from: float, latencies: list[float],
                 worker: int) -> int:
    """One keep-alive HTTP/1.1 connection posting photos back to back; returns failed requests."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failures, i = 0, worker
    while time.perf_counter() < stop_at:
        body = bodies[i % len(bodies)]
        i += 1
        head = (f"POST /v1/predict?top_k=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        t = time.perf_counter()
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        if not status_line.startswith(b"HTTP/1.1 200"):
            failures += 1
        elif t >= record_from:
            latencies.append(1000 * (time.perf_counter() - t))
    writer.close()
    return failures


async def load_test(port: int, bodies: list[bytes], clients: int, seconds: float, warmup: float) -> dict:
    start = time.perf_counter()
    latencies: list[float] = []
    stop_at, record_from = start + warmup + seconds, start + warmup
    failures = await asyncio.gather(*(client(port, bodies, stop_at, record_from, latencies, w) for w in range(clients)))
    return {"clients": clients, "seconds": seconds, "requests_per_s": round(len(latencies) / seconds, 1),
            "failed": int(sum(failures)), **percentiles(latencies)}


# The baseline server: another checkout's bakeoff, on asyncio's event loop as it served before uvloop was a
# dependency (uvicorn's "auto" loop takes uvloop wherever it can import it).
BASELINE = "import sys; sys.modules['uvloop'] = None; from bakeoff.cli import main; sys.exit(main(sys.argv[1:]))"


def http(checkpoint: str, runtime: str, bodies: list[bytes], clients: int, seconds: float,
         window_ms: float, max_batch: int, baseline_src: str | None = None) -> dict:
    port = free_port()
    serve = ["serve", checkpoint, "--port", str(port), "--runtime", runtime, "--batch-window-ms", str(window_ms)]
    if baseline_src is None:
        command, env = [sys.executable, "-m", "bakeoff", *serve, "--max-batch", str(max_batch)], None
    else:
        command, env = [sys.executable, "-c", BASELINE, *serve], {**os.environ, "PYTHONPATH": baseline_src}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bakeoff serve did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        load = os.getloadavg()[0]  # 1-minute, as the load test starts: others' work on this machine
        return {"server": "baseline" if baseline_src else "this checkout", "batch_window_ms": window_ms,
                "max_batch": max_batch, "load_average": load,
                **asyncio.run(load_test(port, bodies, clients, seconds, warmup=2.0))}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def medians(runs: list[dict]) -> dict:
    """The median of each number over the rounds of one server setting."""
    keys = ("requests_per_s", "p50_ms", "p99_ms", "failed", "load_average")
    return {"rounds": len(runs), **{k: round(float(np.median([r[k] for r in runs])), 2) for k in keys}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="best.pt or a run folder (a 28x28 model, e.g. fashion-mnist)")
    p.add_argument("--data-dir", help="where the checkpoint's dataset is, for real test images (default: as bakeoff)")
    p.add_argument("--images", type=int, default=1000, help="photos timed in process, per kind (default: 1000)")
    p.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients (default: 32)")
    p.add_argument("--seconds", type=float, default=20, help="HTTP load test length per back end (default: 20)")
    p.add_argument("--runtimes", default="torch,onnx", help="back ends to compare (default: torch,onnx)")
    p.add_argument("--batch-window-ms", default="2",
                   help="the server's --batch-window-ms; a comma list compares them, e.g. 0,2 (default: 2, as serve)")
    p.add_argument("--max-batch", type=int, default=32, help="the server's --max-batch (default: 32, as serve)")
    p.add_argument("--rounds", type=int, default=1,
                   help="HTTP load tests per back end and window, taking turns; medians reported (default: 1)")
    p.add_argument("--http-input", default="camera", choices=["camera", "png"],
                   help="what the HTTP clients send: 320x240 JPEG camera frames, or the dataset's 28x28 test "
                        "images as PNG (default: camera)")
    p.add_argument("--baseline-src", help="also serve, taking turns, the bakeoff of another checkout's src/ folder "
                                          "(e.g. a git worktree of an older commit), on asyncio's loop")
    p.add_argument("--baseline-window-ms", type=float, default=0,
                   help="the baseline server's --batch-window-ms (default: 0, as before batching)")
    p.add_argument("--skip-http", action="store_true", help="in-process latency only")
    p.add_argument("--skip-in-process", action="store_true", help="HTTP throughput only")
    p.add_argument("--json", help="also write the results as JSON to this path")
    args = p.parse_args()

    from bakeoff.engine.process import configure_process

    configure_process(shares_cores=True)  # as `bakeoff serve` does (the HTTP half runs it): before torch loads
    import torch

    from bakeoff.models.checkpoint import load_checkpoint

    torch.set_num_threads(1)  # single-image latency: one thread, as `bakeoff serve` runs each request
    ckpt = load_checkpoint(args.checkpoint)
    pre = ckpt["preprocessing"]
    images = test_images(pre, args.data_dir, args.images)
    rng = np.random.default_rng(0)
    inputs = {f"{pre['img_size']}x{pre['img_size']} PNG": [png(a) for a in images],
              "320x240 JPEG camera frame": [camera_frame(a, rng) for a in images]}
    runtimes = args.runtimes.split(",")
    windows = [float(w) for w in args.batch_window_ms.split(",")]
    result = {"checkpoint": str(args.checkpoint), "model": ckpt["model"], "dataset": pre["dataset"],
              "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                          "python": platform.python_version(), "torch": torch.__version__},
              "in_process": {}, "http": {}}
    for runtime in [] if args.skip_in_process else runtimes:
        result["in_process"][runtime] = in_process(args.checkpoint, runtime, inputs)
        for kind, r in result["in_process"][runtime].items():
            print(f"in process  {runtime:<5} {kind:<26} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
                  f"({r['n']} images, preprocessing included)")
    if not args.skip_http:
        kind = "320x240 JPEG camera frame" if args.http_input == "camera" else list(inputs)[0]
        bodies = inputs[kind][:64]
        result["http_input"] = kind
        # (label, window, baseline src): the servers that take turns in each round
        servers = [(f"window {w:g} ms", w, None) for w in windows]
        if args.baseline_src:
            servers.insert(0, (f"baseline, window {args.baseline_window_ms:g} ms", args.baseline_window_ms,
                               args.baseline_src))
        for runtime in runtimes:
            runs: dict[str, list[dict]] = {label: [] for label, _, _ in servers}
            for _ in range(args.rounds):
                for label, w, src in servers:
                    r = http(args.checkpoint, runtime, bodies, args.clients, args.seconds, w, args.max_batch, src)
                    runs[label].append(r)
                    print(f"HTTP        {runtime:<5} {label}: {r['clients']} clients, {r['seconds']:g} s: "
                          f"{r['requests_per_s']:.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                          f"({r['failed']} failed; load average {r['load_average']:.2f})", flush=True)
            result["http"][runtime] = {label.replace(", ", "_").replace(" ", "_"): {"median": medians(rs), "runs": rs}
                                       for label, rs in runs.items()}
            for label, rs in runs.items():
                m = medians(rs)
                print(f"median      {runtime:<5} {label} over {m['rounds']}: {m['requests_per_s']:.0f} req/s  "
                      f"p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms")
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
