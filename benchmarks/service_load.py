"""Benchmark: `kgprune serve` under load on loopback, written to one JSON file in one run.

A real server process (`python -m kgprune serve`) over the bundled KG; N client threads, each
on its own keep-alive connection, POST /facts for `--duration` seconds (one random question and
object per request, no sample id, so nothing is served from the retrieval cache). Reported:
requests/s, latency p50/p99, answers by status, errors (anything but a 200, or no answer); then a
burst of `--burst` simultaneous connections, each POSTing once: every one must get 200 or 503
with Retry-After. The load average is recorded before and after.

    python benchmarks/service_load.py --out results/service_load.json [--clients 8 --duration 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

QUESTIONS = ("What is this used for?", "Where would you usually find this?",
             "What is this made of?", "What kind of thing is this?", "What can this do?")
OBJECTS = ("umbrella", "cup", "hot dog", "knife", "bicycle", "chair", "laptop", "plate",
           "bread", "bottle", "car", "dog", "book", "lamp", "table")
START_TIMEOUT_S = 120


def start_server(home: Path, encoder: str) -> tuple[subprocess.Popen[str], str, int]:
    """Load the bundled KG into a fresh store and serve it; returns the process, host, port."""
    env = dict(os.environ, KGPRUNE_HOME=str(home))
    store = f"ladybug://{home / 'kg.lbdb'}"
    subprocess.run([sys.executable, "-m", "kgprune", "kg", "load", "bundled", "--store", store,
                    "--json"], env=env, check=True, capture_output=True, timeout=START_TIMEOUT_S)
    proc = subprocess.Popen([sys.executable, "-m", "kgprune", "serve", "--port", "0", "--store",
                             store, "--encoder", encoder], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
    if not ready:
        proc.kill()
        raise RuntimeError("the server printed no URL")
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    host, port = url.removeprefix("http://").split(":")
    return proc, host, int(port)


def _body(rng: random.Random) -> bytes:
    return json.dumps({"question": rng.choice(QUESTIONS),
                       "image_objects": [rng.choice(OBJECTS)]}).encode()


def _client(host: str, port: int, seed: int, until: float,
            latencies: list[float], statuses: Counter[str]) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    while time.monotonic() < until:
        start = time.perf_counter()
        try:
            conn.request("POST", "/facts", body=_body(rng),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status = str(resp.status)
        except (OSError, http.client.HTTPException) as e:
            status = type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
        latencies.append((time.perf_counter() - start) * 1000)
        statuses[status] += 1
    conn.close()


def steady_load(host: str, port: int, clients: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    until = time.monotonic() + duration
    threads = [threading.Thread(target=_client, args=(host, port, i, until, latencies, statuses))
               for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"clients": clients, "duration_s": round(elapsed, 2), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
            "statuses": dict(statuses), "errors": len(latencies) - statuses["200"]}


def burst(host: str, port: int, n: int) -> dict[str, Any]:
    """`n` connections opened at once, each POSTing one request; every one must be answered."""
    rng = random.Random(n)
    socks, outcomes = [], Counter()
    started = time.monotonic()
    for _ in range(n):
        try:
            socks.append(socket.create_connection((host, port), timeout=5))
        except OSError as e:
            outcomes[f"connect {type(e).__name__}"] += 1
    for sock in socks:
        body = _body(rng)
        sock.sendall(b"POST /facts HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    slowest = 0.0
    for sock in socks:
        try:
            resp = http.client.HTTPResponse(sock, method="POST")
            resp.begin()
            resp.read()
            ok = resp.status == 200 or (resp.status == 503 and resp.getheader("Retry-After"))
            outcomes[str(resp.status) if ok else f"{resp.status} without Retry-After"] += 1
        except (OSError, http.client.HTTPException) as e:
            outcomes[type(e).__name__] += 1
        finally:
            sock.close()
        slowest = max(slowest, time.monotonic() - started)
    answered = outcomes["200"] + outcomes["503"]
    return {"connections": n, "outcomes": dict(outcomes), "unanswered": n - answered,
            "last_answer_s": round(slowest, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/service_load.json"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--encoder", default="hashing")
    args = parser.parse_args()
    report: dict[str, Any] = {"meta": {
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
        "encoder": args.encoder, "endpoint": "POST /facts"}}
    with tempfile.TemporaryDirectory() as tmp:
        proc, host, port = start_server(Path(tmp), args.encoder)
        try:
            report["steady"] = steady_load(host, port, args.clients, args.duration)
            report["burst"] = burst(host, port, args.burst) if args.burst else None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report["meta"]["load_average_1m_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
