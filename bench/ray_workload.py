"""The throughput workload on Ray, run by bench/throughput.py with the Python of its own venv
(var/bench-ray-venv): `ray.init(num_cpus=16)`, a `num_cpus=1` remote function that runs the
command with subprocess. Prints one JSON object: Ray's version and each workload's makespan.

    var/bench-ray-venv/bin/python bench/ray_workload.py --count 200 --many 10000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import ray


@ray.remote(num_cpus=1)
def run(command: str) -> int:
    return subprocess.run(command, shell=True, check=False).returncode


def one_by_one(count: int, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        refs = list(pool.map(lambda _: run.remote("true"), range(count)))
    assert all(code == 0 for code in ray.get(refs))
    return time.perf_counter() - started


def batch(count: int) -> float:
    started = time.perf_counter()
    refs = [run.remote("true") for _ in range(count)]
    assert all(code == 0 for code in ray.get(refs))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--many", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    for attempt in range(3):  # on a busy machine the raylet can miss its start-up deadline
        try:
            ray.init(num_cpus=16, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     _node_ip_address="127.0.0.1")  # everything on this machine's loopback
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    batch(32)  # warm up: start the workers
    figures = {"version": ray.__version__,
               "one_by_one_s": one_by_one(args.count, args.threads),
               "batch_s": batch(args.count)}
    if args.many:
        figures["many_s"] = batch(args.many)
    ray.shutdown()
    print("RAY " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
