"""Submit-to-start latency on an idle cluster, and the time to run a burst of short tasks.

    .venv/bin/python bench/latency.py [--samples 200] [--postgres URL --redis URL]

Latency: the time from the client sending POST /api/v1/tasks to the agent having the task's
process started (the agent's own timestamp, right after fork/exec, on the same clock), one task
at a time so the cluster is idle for each. Burst: 200 one-CPU `true` tasks on 16 CPUs of nodes
(DESIGN's comparison with Ray and Slurm), from the first submit to the last SUCCEEDED.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import cluster, fresh_postgres, percentile, write_json


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def measure_latency(c, samples: int) -> tuple[list[float], list[tuple[float, float, float]]]:
    """Per task: client send -> process started; and its parts: send -> row created (HTTP and
    validation), created -> assigned (placement), assigned -> started (push to the agent, fork/exec)."""
    latencies, parts = [], []
    for _ in range(samples):
        sent = time.time()
        task = c.submit("sleep 0.05", cpu=0.5, mem=32)
        done = c.wait(task["id"], {"SUCCEEDED", "FAILED"})
        created, assigned, started = (seconds(done[k]) for k in ("created_at", "assigned_at", "started_at"))
        latencies.append(started - sent)
        parts.append((created - sent, assigned - created, started - assigned))
    return latencies, parts


def measure_burst(c, count: int) -> float:
    """Submit `count` tasks from 8 client threads, then wait until all have finished."""
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: c.submit("true", cpu=1, mem=32), range(count)))
    while True:
        finished = c.api.get(f"{c.url}/api/v1/tasks?status=SUCCEEDED,FAILED&page_size=1", timeout=30).json()["count"]
        if finished >= count:
            return time.monotonic() - started
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL URL (its database is recreated)")
    parser.add_argument("--redis", help="Redis URL for the PostgreSQL run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (for bench/run_all.py)")
    args = parser.parse_args()
    configs = [("SQLite + in-memory", None, None)]
    if args.postgres:
        configs.append(("PostgreSQL + Redis" if args.redis else "PostgreSQL", args.postgres, args.redis))
    rows = []
    for label, db, redis in configs:
        with cluster(agents="n1:4:8192,n2:4:8192,n3:4:8192,n4:4:8192",
                     database_url=fresh_postgres(db) if db else None, redis_url=redis) as c:
            measure_latency(c, 10)  # warm up
            latencies, parts = measure_latency(c, args.samples)
            burst = measure_burst(c, args.burst)
        medians = [percentile([p[i] for p in parts], 50) * 1000 for i in range(3)]
        rows.append((label, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000,
                     max(latencies) * 1000, burst, medians))
    print(f"\nsubmit-to-start latency, {args.samples} tasks one at a time on an idle cluster "
          f"(target p50 < 10 ms, p99 < 50 ms); burst: {args.burst} x 1-CPU `true` on 16 CPUs")
    print(f"{'configuration':22} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'burst s':>8} {'tasks/s':>8}"
          f"   median parts: to the master / placement / to the process (ms)")
    for label, p50, p99, worst, burst, medians in rows:
        print(f"{label:22} {p50:8.1f} {p99:8.1f} {worst:8.1f} {burst:8.2f} {args.burst / burst:8.1f}"
              f"   {medians[0]:.1f} / {medians[1]:.1f} / {medians[2]:.1f}")
    if args.json:
        write_json(args.json, [{"configuration": label, "p50_ms": p50, "p99_ms": p99, "max_ms": worst,
                                "burst": args.burst, "burst_s": burst} for label, p50, p99, worst, burst, _ in rows])


if __name__ == "__main__":
    main()
