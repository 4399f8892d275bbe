"""The log pipeline with a task printing 1,000,000 lines.

    .venv/bin/python bench/logs.py [--lines 1000000] [--rounds 3] [--postgres URL --redis URL]

For each workload (`seq`, a C program, and a Python print loop) and each configuration, printed
side by side in one run:
  - the command's own runtime as a task whose output is logged, against the same command as a task
    of the same agent with its stdout redirected to a file (`( cmd ) > file`), alternating, best
    of --rounds each: the ratio shows whether the log pipeline slows a task down (target: at most
    1.2);
  - the time from the process ending until the master has stored every line (the agent reports
    the end only once the master has acknowledged all of its output);
  - the rate at which a WebSocket subscriber, connected before the task starts, receives them:
    MB/s and lines/s, and whether it got every line, in order, exactly once;
  - the CPU the pipeline spends per MB of output: the agent (cut, send) and the master (store,
    relay). On a small machine that runs the master, the agent, the subscriber and the task on the
    same cores, this CPU is what the task competes with.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.cpus import confine_process
from bench.harness import cluster, fresh_postgres, write_json
from tests import wsclient


def workloads(lines: int) -> dict[str, str]:
    """Each prints `lines` numbered lines to stdout and its own runtime in ns to stderr."""
    return {
        "seq (C)": f't0=$(date +%s%N); seq {lines}; t1=$(date +%s%N); echo "runtime_ns=$((t1-t0))" >&2',
        "python print": (
            "python3 -c \"import sys, time\nt0 = time.perf_counter_ns()\nw = sys.stdout.write\n"
            f"for i in range({lines}): w(f'line {{i}}\\n')\nsys.stdout.flush()\n"
            "print(f'runtime_ns={time.perf_counter_ns() - t0}', file=sys.stderr)\""
        ),
    }


def place_cluster(c, *, agent: set[int], master_side: set[int]) -> None:
    """Affinity of the cluster's processes: the agent's (and so the tasks it starts from now on)
    and the master side's (master, sweeper, and this script with its subscriber)."""
    for role, processes in c.processes().items():
        for process in processes:
            confine_process(agent if role == "agent" else master_side, process.pid)
    confine_process(master_side)


def stored_log(c, task_id: int) -> str:
    return c.api.get(f"{c.url}/api/v1/tasks/{task_id}/logs/raw", timeout=120).text


def self_timed(log_text: str) -> float:
    """The runtime the command printed to its stderr (stored in its log)."""
    return int(log_text.split("runtime_ns=")[1].split()[0]) / 1e9


def runtime_to_file(c, command: str) -> float:
    """The same command as a task of the same agent, its stdout into a file (stderr still logged,
    for its self-timing)."""
    task = c.submit(f"( {command} ) > /tmp/mini-scheduler-bench-log-$SCHEDULER_TASK_ID.txt; "
                    "rm -f /tmp/mini-scheduler-bench-log-$SCHEDULER_TASK_ID.txt", cpu=1, mem=1024)
    done = c.wait(task["id"], {"SUCCEEDED", "FAILED"}, timeout=600)
    if done["status"] != "SUCCEEDED":
        raise RuntimeError(f"the baseline task failed: {done}")
    return self_timed(stored_log(c, task["id"]))


class Subscriber(wsclient.Subscriber):
    """Keeps the figures of log frames (and stdout text) rather than every frame."""

    def __init__(self, url: str, token: str, task_id: int) -> None:
        self.stdout, self.bytes, self.seqs = [], 0, []
        self.first = self.last = None
        super().__init__(wsclient.log_url(url, task_id), token, timeout=120)

    def on_frame(self, frame: dict) -> None:
        if frame["type"] != "log":
            return
        now = time.monotonic()
        self.first = self.first or now
        self.last = now
        self.bytes += len(frame["data"].encode())
        self.seqs.append(frame["seq"])
        if frame["stream"] == "stdout":
            self.stdout.append(frame["data"])


def measure(c, name: str, command: str, lines: int) -> dict:
    cpu_before = c.cpu_seconds()
    task = c.submit(command, cpu=1, mem=1024)
    subscriber = Subscriber(c.url, c.token, task["id"])
    running = c.wait(task["id"], {"RUNNING", "SUCCEEDED", "FAILED"})
    # The agent reports the end only once every chunk is acknowledged (stored): from the process's
    # end (the agent's timestamp, finished_at) to the task being SUCCEEDED, all lines were stored.
    done = c.wait(task["id"], {"SUCCEEDED", "FAILED"}, timeout=600)
    stored_after = time.time() - datetime.fromisoformat(done["finished_at"].replace("Z", "+00:00")).timestamp()
    stored = stored_log(c, task["id"])
    runtime = self_timed(stored)
    deadline = time.monotonic() + 120
    while subscriber.bytes < len(stored.encode()) and time.monotonic() < deadline:
        time.sleep(0.05)
    subscriber.ws.close()
    cpu_after = c.cpu_seconds()
    megabytes = len(stored.encode()) / 1e6
    cpu_ms_per_mb = {role: (cpu_after.get(role, 0) - cpu_before.get(role, 0)) * 1000 / megabytes
                     for role in ("agent", "master")}
    received = "".join(subscriber.stdout)
    expected_lines = received.count("\n")
    gapless = subscriber.seqs == list(range(len(subscriber.seqs)))
    span = (subscriber.last or 0) - (subscriber.first or 0)
    return {
        "workload": name, "status": done["status"], "runtime": runtime,
        "stored_after": stored_after, "lines": expected_lines, "complete": expected_lines == lines and gapless,
        "mb_s": subscriber.bytes / span / 1e6 if span else float("nan"),
        "lines_s": expected_lines / span if span else float("nan"), "started": running["started_at"],
        "agent_ms_mb": cpu_ms_per_mb["agent"], "master_ms_mb": cpu_ms_per_mb["master"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (best runtime; worst store time)")
    parser.add_argument("--postgres", help="also on this PostgreSQL URL (its database is recreated)")
    parser.add_argument("--redis", help="Redis URL for the PostgreSQL run")
    parser.add_argument("--pin", action="store_true",
                        help="also run with the master, the sweeper and this script on CPU 0 and the agent (so its "
                             "tasks) on CPU 1: a worker machine whose master runs elsewhere")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (for bench/run_all.py)")
    args = parser.parse_args()
    cpus = os.sched_getaffinity(0)
    configs = [("SQLite + in-memory", None, None, None, {})]
    if args.postgres:
        configs.append(("PostgreSQL + Redis" if args.redis else "PostgreSQL", args.postgres, args.redis, None, {}))
    if len(cpus) >= 2:
        # the agent hands the task its highest CPU; the master side stays off it, as on another machine
        configs.append(("exclusive CPUs", None, None, {"agent": cpus, "master_side": cpus - {max(cpus)}},
                        {"SCHEDULER_EXCLUSIVE_CPUS": "1"}))
    if args.pin:
        configs.append(("SQLite, pinned", None, None, {"agent": {1}, "master_side": {0}}, {}))
    jobs = workloads(args.lines)
    rows = []
    for label, db, redis, placement, env in configs:
        with cluster(agents="n1:2:4096", database_url=fresh_postgres(db) if db else None, redis_url=redis,
                     env=env) as c:
            if placement:
                place_cluster(c, **placement)
            for name, command in jobs.items():
                to_file, logged = [], []
                for _ in range(args.rounds):
                    to_file.append(runtime_to_file(c, command))
                    logged.append(measure(c, name, command, args.lines))
                best = min(logged, key=lambda r: r["runtime"])
                rows.append((label, {**best, "file": min(to_file),
                                     "complete": all(r["complete"] for r in logged),
                                     "stored_after": max(r["stored_after"] for r in logged)}))
        confine_process(cpus)  # the next configuration starts unplaced
    print(f"\n{args.lines:,} lines of stdout from one task (1 core, 1 GiB), subscriber connected before it starts")
    print(f"{'configuration':20} {'workload':13} {'under agent s':>13} {'to a file s':>11} {'ratio':>6} "
          f"{'stored after s':>14} {'ws MB/s':>8} {'ws lines/s':>11} {'CPU ms/MB agent':>15} {'master':>6} "
          f"{'all lines, once, in order':>26}")
    for label, r in rows:
        print(f"{label:20} {r['workload']:13} {r['runtime']:13.3f} {r['file']:11.3f} {r['runtime'] / r['file']:6.2f} "
              f"{r['stored_after']:14.2f} {r['mb_s']:8.1f} {r['lines_s']:11,.0f} {r['agent_ms_mb']:15.1f} "
              f"{r['master_ms_mb']:6.1f} "
              f"{('yes' if r['complete'] else 'NO') + ' (' + format(r['lines'], ',') + ')':>26}")

    if args.json:
        write_json(args.json, {"lines": args.lines,
                               "rows": [{"configuration": label, **{k: v for k, v in r.items() if k != "started"}}
                                        for label, r in rows]})


if __name__ == "__main__":
    main()
