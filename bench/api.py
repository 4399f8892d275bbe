"""Request overhead of the master's API: p50/p99 of an authenticated `GET /api/v1/nodes` and of
`POST /api/v1/tasks`, and the master's CPU time per request, from a keep-alive load client.

    .venv/bin/python bench/api.py [--requests 3000] [--rounds 6] [--postgres URL --redis URL]
                                  [--against-rev REV | --against DIR]

A master alone (daphne, no sweeper, no agent) with one registered node big enough to take every
task, so a submit is validated, inserted and placed in its own transaction (the fast path); the
client cancels it after the timed request, so every submit meets the same idle node. One client
thread, one request at a time over one keep-alive connection: the latency of a request on an idle
master, and the master's CPU time during it. With `--against-rev REV` (or `--against DIR`, a
checkout) a second master runs that code beside this one, and the two are measured in alternating
rounds (A B B A ...), so a before/after comparison holds while the machine's load drifts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PYTHON, ROOT, free_port, fresh_postgres, percentile, write_json

ENDPOINTS = ("GET /api/v1/nodes", "POST /api/v1/tasks")
TASK = json.dumps({"command": "true", "cpu": 0.001, "mem": 1}).encode()


@dataclass
class Master:
    label: str
    source: Path
    port: int
    process: subprocess.Popen
    token: str = ""
    data_dir: str = ""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    round_medians: dict[str, list[float]] = field(default_factory=dict)
    cpu_per_request: dict[str, list[float]] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system


def start_master(label: str, source: Path, *, database_url: str | None, redis_url: str | None) -> Master:
    data_dir = tempfile.mkdtemp(prefix=f"mini-scheduler-api-{label}-")
    join = secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER_", "DJANGO_", "DATABASE_URL",
                                                                     "REDIS_URL"))}
    env.update(DJANGO_SECRET_KEY=secrets.token_urlsafe(32), SCHEDULER_JOIN_TOKEN=join, PYTHONUNBUFFERED="1",
               DATABASE_URL=database_url or f"sqlite:///{data_dir}/scheduler.sqlite3")
    if redis_url:
        env["REDIS_URL"] = redis_url
    manage = [PYTHON, str(source / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, cwd=source, check=True)
    password = secrets.token_urlsafe(12)
    subprocess.run([*manage, "ensureadmin", "--username", "bench", "--password", password], env=env, cwd=source,
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    log = open(Path(data_dir) / "master.log", "ab")  # noqa: SIM115 - the child owns it
    process = subprocess.Popen([PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                "scheduler_site.asgi:application"], env=env, cwd=source, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    master = Master(label=label, source=source, port=port, process=process, data_dir=data_dir)
    deadline = time.monotonic() + 60
    while True:
        try:
            status, _ = request(master, "GET", "/healthz")
            if status == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"master {label} did not start; see {data_dir}/master.log")
        time.sleep(0.1)
    _, body = request(master, "POST", "/api/v1/auth/token", json.dumps({"username": "bench", "password": password})
                      .encode())
    master.token = json.loads(body)["token"]
    status, body = request(master, "POST", "/api/v1/internal/register", json.dumps({
        "name": "bench-node", "cpu": 1000, "mem": 1024 * 1024, "labels": {}, "agent": {"version": "bench"},
    }).encode(), token=join)
    if status != 201:
        raise RuntimeError(f"register failed: {status} {body[:300]!r}")
    return master


def stop_master(master: Master) -> None:
    master.process.send_signal(signal.SIGTERM)
    try:
        master.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(master.process.pid, signal.SIGKILL)
    if master.process.returncode in (0, -signal.SIGTERM):
        shutil.rmtree(master.data_dir, ignore_errors=True)
    else:
        print(f"master {master.label} exited with {master.process.returncode}: its log is in {master.data_dir}")


_connections: dict[int, http.client.HTTPConnection] = {}


def request(master: Master, method: str, path: str, body: bytes | None = None, *,
            token: str | None = None) -> tuple[int, bytes]:
    try:
        return _request(master, method, path, body, token=token)
    except http.client.RemoteDisconnected:  # the server closed an idle keep-alive connection: once more
        return _request(master, method, path, body, token=token)


def _request(master: Master, method: str, path: str, body: bytes | None = None, *,
             token: str | None = None) -> tuple[int, bytes]:
    conn = _connections.get(master.port)
    if conn is None:
        conn = _connections[master.port] = http.client.HTTPConnection("127.0.0.1", master.port, timeout=30)
    headers = {"Authorization": f"Token {token or master.token}"} if (token or master.token) else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        _connections.pop(master.port, None)
        raise


def measure(master: Master, endpoint: str, count: int) -> None:
    """`count` requests, one at a time; a submitted task is cancelled after its request (untimed), so
    the node holds at most one task and every submit meets the same idle cluster."""
    method, path = endpoint.split(" ")
    body = TASK if method == "POST" else None
    expected = 201 if method == "POST" else 200
    latencies, cpu = [], 0.0
    for _ in range(count):
        cpu_before = master.cpu_seconds()
        started = time.perf_counter()
        status, answer = request(master, method, path, body)
        latencies.append(time.perf_counter() - started)
        cpu += master.cpu_seconds() - cpu_before
        if status != expected:
            raise RuntimeError(f"{master.label} {endpoint}: {status} {answer[:300]!r}")
        if method == "POST":
            status, answer = request(master, "POST", f"/api/v1/tasks/{json.loads(answer)['id']}/cancel", b"")
            if status != 200:
                raise RuntimeError(f"{master.label} cancel: {status} {answer[:300]!r}")
    master.cpu_per_request.setdefault(endpoint, []).append(cpu / count)
    master.latencies.setdefault(endpoint, []).extend(latencies)
    master.round_medians.setdefault(endpoint, []).append(percentile(latencies, 50))


def checkout(rev: str) -> Path:
    target = Path(tempfile.mkdtemp(prefix="mini-scheduler-rev-"))
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint and master (default 3000)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--postgres", help="PostgreSQL URL (its database is recreated; a second one, "
                                           "suffixed _b, for --against)")
    parser.add_argument("--redis", help="Redis URL for the PostgreSQL run")
    parser.add_argument("--against", help="a second checkout to measure beside this one")
    parser.add_argument("--against-rev", help="a git revision to measure beside this checkout")
    parser.add_argument("--rev", help="measure this git revision instead of the working tree")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (for bench/run_all.py)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the masters on the way out
    sources = [(args.rev, checkout(args.rev)) if args.rev else ("this", ROOT)]
    other = checkout(args.against_rev) if args.against_rev else Path(args.against) if args.against else None
    if other is not None:
        sources.append((args.against_rev or "other", other))
    masters = []
    try:
        for index, (label, source) in enumerate(sources):
            db = fresh_postgres(args.postgres + ("_b" if index else "")) if args.postgres else None
            masters.append(start_master(label, source, database_url=db, redis_url=args.redis))
        per_round = max(1, args.requests // args.rounds)
        for master in masters:  # warm up: imports, connections, caches
            for endpoint in ENDPOINTS:
                measure(master, endpoint, 100)
            master.latencies.clear()
            master.round_medians.clear()
            master.cpu_per_request.clear()
        for round_ in range(args.rounds):
            order = masters if round_ % 2 == 0 else masters[::-1]
            for master in order:
                for endpoint in ENDPOINTS:
                    measure(master, endpoint, per_round)
    finally:
        for master in masters:
            stop_master(master)
        for label, source in sources:
            if source != ROOT and (label == args.rev or label == args.against_rev):
                shutil.rmtree(source, ignore_errors=True)
    store = "PostgreSQL + Redis" if args.postgres else "SQLite + in-memory"
    print(f"\nAPI request latency, {store}: {per_round * args.rounds} requests per endpoint and master, "
          f"{args.rounds} alternating rounds; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'master':14} {'endpoint':22} {'p50 ms':>8} {'p99 ms':>8} {'round p50s (min-max)':>22} "
          f"{'master CPU ms/req':>18}")
    rows = []
    for master in masters:
        for endpoint in ENDPOINTS:
            values = master.latencies[endpoint]
            rounds = master.round_medians[endpoint]
            cpu = percentile(master.cpu_per_request[endpoint], 50)
            row = {"master": master.label, "endpoint": endpoint, "store": store,
                   "p50_ms": percentile(values, 50) * 1000, "p99_ms": percentile(values, 99) * 1000,
                   "round_p50_min_ms": min(rounds) * 1000, "round_p50_max_ms": max(rounds) * 1000,
                   "cpu_ms": cpu * 1000}
            rows.append(row)
            print(f"{master.label:14} {endpoint:22} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
                  f"{row['round_p50_min_ms']:10.2f} - {row['round_p50_max_ms']:<9.2f} {row['cpu_ms']:18.2f}")
    if args.json:
        write_json(args.json, rows)


if __name__ == "__main__":
    main()
