"""Load on `kalec serve`, loopback only and bounded: 8 clients for 30 s on `/api/v1/check`, then
on `POST /kale`, posting the shared corpus's notebooks (the examples when it is not beside the
project). Prints requests per second, p50 and p99 latency, errors (must be 0), and the
server's resident memory before and after each phase (after a 5-second warm-up, so that a first
import, kfp's for /kale, and the threads' allocator arenas are not counted as growth). Target:
p99 of check under 150 ms.

    python bench/serve_load.py [--clients 8] [--seconds 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def phase(port: int, path: str, bodies: list[bytes], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        index = offset
        while time.monotonic() < stop:
            body = bodies[index % len(bodies)]
            index += 1
            started = time.perf_counter()
            try:
                connection.request(
                    "POST", path, body=body,
                    headers={"Content-Type": "application/json", "Authorization": f"token {TOKEN}"},
                )  # fmt: skip
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors[0] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "rate": count / seconds,
        "p50": latencies[count // 2] * 1000 if count else float("nan"),
        "p99": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else float("nan"),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    corpus = HERE.parent.parent / "shared" / "notebooks"
    paths = sorted(corpus.glob("*.ipynb")) or sorted((HERE.parent / "examples").glob("*.ipynb"))
    bodies = [json.dumps({"nb": json.loads(p.read_text())}).encode() for p in paths]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [sys.executable, "-m", "kalec", "serve", "--port", str(port), "--token", TOKEN,
             "--folder", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, HOME=folder),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    connection.request("GET", "/healthz")
                    if connection.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
                if time.monotonic() > deadline:
                    raise SystemExit("kalec serve did not start")
            print(f"{len(paths)} notebooks, {args.clients} clients, {args.seconds:.0f} s a phase")
            print(
                f"{'endpoint':<16} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MB before -> after':>24}"
            )
            for path in ("/api/v1/check", "/kale"):
                # warm-up: first imports (kfp for /kale) done, each thread's allocator arena made
                phase(port, path, bodies, args.clients, 5.0)
                before = rss_mb(server.pid)
                result = phase(port, path, bodies, args.clients, args.seconds)
                after = rss_mb(server.pid)
                print(
                    f"{path:<16} {result['rate']:7.1f} {result['p50']:8.1f} {result['p99']:8.1f} "
                    f"{result['errors']:7d} {before:11.1f} -> {after:8.1f}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("target: p99 of /api/v1/check under 150 ms, no errors, memory flat")


if __name__ == "__main__":
    main()
