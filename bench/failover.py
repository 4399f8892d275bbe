"""Failover: time from kill -9 of the agent running a task to that task RUNNING on another node.

    .venv/bin/python bench/failover.py [--runs 3] [--default-only | --fast-only]

With the default timers (heartbeat 3 s, UNHEALTHY 10 s, OFFLINE 30 s) the target is within
OFFLINE_AFTER + 1 s = 31 s (Kubernetes' defaults take about 5 minutes: 40 s node-monitor grace
plus 300 s of not-ready toleration); also measured with the short test timers (0.5 / 1.5 / 3 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import cluster, percentile, write_json


def one_run(c) -> float:
    task = c.submit("sleep 600", cpu=1, mem=64, max_attempts=5)
    first = c.wait(task["id"], {"RUNNING"})
    victim = first["node_name"]
    os.kill(c.ready["agents"][victim], signal.SIGKILL)
    killed = time.monotonic()
    while True:
        now = c.task(task["id"])
        if now["status"] == "RUNNING" and now["attempt"] > first["attempt"]:
            elapsed = time.monotonic() - killed
            assert now["node_name"] != victim
            break
        time.sleep(0.02)
    c.api.post(f"{c.url}/api/v1/tasks/{task['id']}/cancel")
    return elapsed


def measure(fast: bool, runs: int) -> list[float]:
    results = []
    for _ in range(runs):  # a fresh cluster per run: the killed agent stays dead
        with cluster(agents="a:2:2048,b:2:2048", fast_timers=fast) as c:
            results.append(one_run(c))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fast-only", action="store_true")
    parser.add_argument("--default-only", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (for bench/run_all.py)")
    args = parser.parse_args()
    rows = []
    if not args.fast_only:
        rows.append(("default (3 / 10 / 30 s)", 31.0, measure(False, args.runs)))
    if not args.default_only:
        rows.append(("short (0.5 / 1.5 / 3 s)", 4.0, measure(True, args.runs)))
    print(f"\nkill -9 of an agent -> its task RUNNING on another node ({args.runs} runs each)")
    print(f"{'timers (hb / unhealthy / offline)':34} {'target s':>9} {'min s':>7} {'p50 s':>7} {'max s':>7}")
    for label, target, values in rows:
        print(f"{label:34} {target:9.1f} {min(values):7.2f} {percentile(values, 50):7.2f} {max(values):7.2f}")
    if args.json:
        write_json(args.json, [{"timers": label, "target_s": target, "max_s": max(values),
                                "p50_s": percentile(values, 50)} for label, target, values in rows])


if __name__ == "__main__":
    main()
