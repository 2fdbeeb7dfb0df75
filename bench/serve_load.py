"""Load on `kalec serve`, loopback only and bounded, as a team sharing one server loads it.

1. Mixed: 8 clients for 30 s, each posting in turn `/api/v1/check` and `/api/v1/build` for every
   target (kfp-py, yaml, argo, ir) of the real corpus's 15 notebooks (`bench/corpus`: textbook,
   library-documentation and Kale notebooks, tagged by section) and the 3 examples, each posted
   under a new name now and then so that builds are not all answered from memory). Prints
   requests, errors (must be 0), check's p50 and p99 (target: p99 under 150 ms while yaml
   builds run), builds' p99, and the resident memory of the server and of its kfp worker after
   500 requests and at the end (target: the two together under 300 MB).
2. Large notebooks: 8 distinct notebooks of about 6 MB, each checked and built (kfp-py) in 4
   rounds; resident memory after each round (target: flat after the first).

    python bench/serve_load.py [--clients 8] [--seconds 30] [--kfp-workers 1]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
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
TARGETS = ("kfp-py", "yaml", "argo", "ir")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    """Resident memory of the server and of its worker processes."""
    return sum(_rss_mb(p) for p in [pid, *_children(pid)])


def memory(pid: int) -> str:
    """The server's resident memory, and its workers'."""
    server = _rss_mb(pid)
    workers = rss_mb(pid) - server
    return f"{server + workers:.0f} MB (server {server:.0f}, kfp worker {workers:.0f})"


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = [int(c) for c in text.split()]
    return found + [g for c in found for g in _children(c)]


def post(connection: http.client.HTTPConnection, path: str, body: bytes) -> int:
    connection.request(
        "POST",
        path,
        body=body,
        headers={"Content-Type": "application/json", "Authorization": f"token {TOKEN}"},
    )
    response = connection.getresponse()
    response.read()
    return response.status


def percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * share))] * 1000 if values else float("nan")


def mixed(port: int, pid: int, notebooks: list[dict], clients: int, seconds: float) -> None:
    latencies: dict[str, list[float]] = {"check": [], **{t: [] for t in TARGETS}}
    errors: list[str] = []
    lock = threading.Lock()
    count = itertools.count()
    rss_at_500: list[str] = []
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for turn in itertools.count(offset):
            if time.monotonic() > stop:
                return
            nb = json.loads(json.dumps(notebooks[turn % len(notebooks)]))
            if turn % 3 == 0:  # a new name: a build the server has not made before
                nb.setdefault("metadata", {})["kalec"] = {"name": f"load-{offset}-{turn}"}
            kind = "check" if turn % 2 == 0 else TARGETS[(turn // 2) % len(TARGETS)]
            path = "/api/v1/check" if kind == "check" else "/api/v1/build"
            fields = {"nb": nb} if kind == "check" else {"nb": nb, "target": kind}
            started = time.perf_counter()
            try:
                status = post(connection, path, json.dumps(fields).encode())
            except OSError as error:
                status = -1
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                with lock:
                    errors.append(f"{kind}: {error}")
            elapsed = time.perf_counter() - started
            with lock:
                latencies[kind].append(elapsed)
                if status != 200 and status != -1:
                    errors.append(f"{kind}: HTTP {status}")
                if next(count) == 500:
                    rss_at_500.append(memory(pid))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(len(v) for v in latencies.values())
    print(f"1. mixed load: {clients} clients, {seconds:.0f} s, {total} requests")
    print(f"   errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    check = latencies["check"]
    print(
        f"   check: {len(check)} requests, p50 {percentile(check, 0.5):.0f} ms, "
        f"p99 {percentile(check, 0.99):.0f} ms   (target: p99 under 150 ms)"
    )
    for target in TARGETS:
        print(
            f"   build {target:<7} {len(latencies[target]):4d} requests, "
            f"p99 {percentile(latencies[target], 0.99):.0f} ms"
        )
    shown = rss_at_500[0] if rss_at_500 else "(fewer than 500 requests)"
    print(f"   resident memory after 500 requests: {shown}")
    print(f"   resident memory at the end: {memory(pid)}   (target: under 300 MB)")


def large(port: int, pid: int) -> None:
    print("2. 8 distinct notebooks of about 6 MB, checked and built (kfp-py), 4 rounds")
    padding = "# " + "x" * 70 + "\n"
    bodies = []
    for index in range(8):
        cells = [
            {
                "cell_type": "code",
                "metadata": {"tags": [f"block:s{n}"]},
                "source": f"value_{n} = {index} * {n}\n" + padding * 400,
                "outputs": [],
                "execution_count": None,
            }
            for n in range(200)
        ]
        nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        bodies.append(json.dumps({"nb": nb, "name": f"large{index}.ipynb"}).encode())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    sizes = sum(len(b) for b in bodies) / len(bodies) / 2**20
    shown = []
    for _ in range(4):
        for body in bodies:
            assert post(connection, "/api/v1/check", body) == 200
            fields = json.loads(body) | {"target": "kfp-py"}
            assert post(connection, "/api/v1/build", json.dumps(fields).encode()) == 200
        shown.append(f"{rss_mb(pid):.0f}")
    print(f"   bodies of {sizes:.1f} MB; resident memory after each round: {', '.join(shown)} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--kfp-workers", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE / "corpus"))
    import tag

    paths = sorted((HERE / "corpus" / "notebooks").glob("*.ipynb")) + sorted(
        (HERE.parent / "examples").glob("*.ipynb")
    )
    notebooks = [tag.tag(json.loads(p.read_text())) for p in paths]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [sys.executable, "-m", "kalec", "serve", "--port", str(port), "--token", TOKEN,
             "--folder", folder, "--kfp-workers", str(args.kfp_workers)],
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
            print(f"{len(paths)} notebooks; kfp workers: {args.kfp_workers}")
            mixed(port, server.pid, notebooks, args.clients, 5.0)  # warm-up, not counted
            print("   (the above was the warm-up)")
            mixed(port, server.pid, notebooks, args.clients, args.seconds)
            large(port, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
