"""Throughput of short tasks end to end, beside Ray on the same machine in the same run.

    .venv/bin/python bench/throughput.py [--count 200] [--many 10000] [--postgres URL --redis URL]
                                         [--no-ray] [--json PATH]

Workloads, each of one-CPU, 100 MiB `true` tasks on two agents of 8 cores (product timers):
  (a) `--count` tasks submitted one by one from 8 client threads;
  (b) the same as one batch (a JSON array to POST /api/v1/tasks);
  (c) `--many` tasks as batches of 1,000.
(b) and (c) print "not available" while the master refuses an array. Each on SQLite + the
in-memory layer, and on PostgreSQL + Redis with --postgres/--redis; and on Ray (`ray.init(num_cpus=16)`,
a `num_cpus=1` remote function running the command with subprocess), installed in its own venv
(var/bench-ray-venv, created here; skipped with a message when it cannot be installed).

Printed: makespan (first submit sent -> last end recorded), tasks/s, the ratio to Ray; the median
of each hop of a task's life from the timestamps the system records (task and event times) and
two an agent-side probe records (bench/probe: when a desired state reaches the agent, when it
sends a report); the RSS of the master, the sweeper and each agent before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, cluster, fresh_postgres, percentile, write_json

AGENTS = "a1:8:16384,a2:8:16384"
TASK = {"command": "true", "cpu": 1, "mem": 100}
BATCH = 1000
RAY_VERSION = "2.60.0"
RAY_VENV = ROOT / "var" / "bench-ray-venv"
HOPS = ("submit -> placed", "placed -> desired at agent", "desired -> process started", "started -> exit seen",
        "exit seen -> end sent", "end sent -> end recorded", "end recorded -> capacity freed",
        "capacity freed -> next placed")


# -- Ray ---------------------------------------------------------------------------------------

def ray_python() -> tuple[str | None, str]:
    """The Ray venv's python (created and installed on first use), or None and why not."""
    python = RAY_VENV / "bin" / "python"
    check = [str(python), "-c", "import ray; print(ray.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python), ""
    try:
        subprocess.run([sys.executable if not (ROOT / ".venv").exists() else "python3", "-m", "venv",
                        str(RAY_VENV)], check=True, capture_output=True)
        for spec in (f"ray=={RAY_VERSION}", "ray>=2,<3"):  # the nearest 2.x when the pinned one cannot install
            install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", spec], capture_output=True,
                                     text=True, timeout=1200)
            if install.returncode == 0:
                return str(python), ""
        return None, install.stderr.strip().splitlines()[-1] if install.stderr.strip() else "pip failed"
    except (OSError, subprocess.SubprocessError) as error:
        return None, str(error)


def run_ray(count: int, many: int) -> dict:
    python, why = ray_python()
    if python is None:
        print(f"Ray: skipped, it cannot be installed here ({why})", flush=True)
        return {}
    result = subprocess.run([python, str(ROOT / "bench" / "ray_workload.py"), "--count", str(count),
                             "--many", str(many)], capture_output=True, text=True, timeout=1800)
    for line in result.stdout.splitlines():
        if line.startswith("RAY "):
            return json.loads(line[4:])
    print(f"Ray: failed ({result.returncode}): {result.stderr[-800:]}", flush=True)
    return {}


# -- our cluster -------------------------------------------------------------------------------

def rss_by_role(c) -> dict[str, float]:
    import psutil

    figures: dict[str, float] = {}
    for role, processes in c.processes().items():
        for index, process in enumerate(sorted(processes, key=lambda p: p.pid)):
            try:
                figures[f"{role}{index + 1 if role == 'agent' else ''}"] = process.memory_info().rss / 2**20
            except psutil.Error:
                pass
    return figures


def batch_available(c) -> bool:
    response = c.api.post(f"{c.url}/api/v1/tasks", json=[TASK], timeout=30)
    return response.status_code == 201 and isinstance(response.json(), list)


def submit_one_by_one(c, count: int, threads: int = 8) -> dict[int, float]:
    """Task id -> unix time its request was sent."""
    sent: dict[int, float] = {}
    lock = threading.Lock()
    share = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def worker(n: int) -> None:
        session = requests.Session()
        session.headers.update(c.api.headers)
        for _ in range(n):
            at = time.time()
            response = session.post(f"{c.url}/api/v1/tasks", json=TASK, timeout=60)
            response.raise_for_status()
            with lock:
                sent[response.json()["id"]] = at

    pool = [threading.Thread(target=worker, args=(n,)) for n in share]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sent


def submit_batches(c, count: int, size: int) -> dict[int, float]:
    sent: dict[int, float] = {}
    for start in range(0, count, size):
        at = time.time()
        response = c.api.post(f"{c.url}/api/v1/tasks", json=[TASK] * min(size, count - start), timeout=300)
        response.raise_for_status()
        sent.update({task["id"]: at for task in response.json()})
    return sent


def wait_finished(c, ids: set[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    low = min(ids)
    while time.monotonic() < deadline:
        page = c.api.get(f"{c.url}/api/v1/tasks", params={"status": "SUCCEEDED,FAILED,CANCELLED",
                                                          "page_size": 1}, timeout=30).json()
        done = page["count"]
        if done >= len(ids) and page["results"] and page["results"][0]["id"] >= low:
            # every finished task counted; make sure all of ours are among them
            active = c.api.get(f"{c.url}/api/v1/tasks", params={"status": "PENDING,ASSIGNED,RUNNING",
                                                                "page_size": 1}, timeout=30).json()["count"]
            if active == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{len(ids)} tasks not finished after {timeout:.0f}s")


# -- timestamps --------------------------------------------------------------------------------

def _seconds(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def read_times(database_url: str | None, data_dir: str, ids: set[int]) -> tuple[dict, list]:
    """Per task: assigned, started, finished (agent's), node, attempt; and every event (task, status, node, at)."""
    task_sql = "SELECT id, assigned_at, started_at, finished_at, node_id, attempt FROM tasks_task WHERE id >= %s"
    event_sql = "SELECT task_id, to_status, node_id, created_at FROM tasks_taskevent WHERE task_id >= %s"
    low = min(ids)
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as conn:
            tasks = conn.execute(task_sql, [low]).fetchall()
            events = conn.execute(event_sql, [low]).fetchall()
    else:
        conn = sqlite3.connect(Path(data_dir) / "scheduler.sqlite3")
        tasks = conn.execute(task_sql.replace("%s", "?"), [low]).fetchall()
        events = conn.execute(event_sql.replace("%s", "?"), [low]).fetchall()
        conn.close()
    by_task = {row[0]: {"assigned": _seconds(row[1]), "started": _seconds(row[2]), "finished": _seconds(row[3]),
                        "node": row[4], "attempt": row[5]} for row in tasks if row[0] in ids}
    return by_task, [(t, status, node, _seconds(at)) for t, status, node, at in events]


def read_probe(directory: str) -> dict[tuple[str, int, int], float]:
    """(kind, task, attempt) -> the first time the agent saw / sent it."""
    first: dict[tuple[str, int, int], float] = {}
    for path in Path(directory).glob("agent-*.jsonl"):
        for line in path.read_text().splitlines():
            at, kind, task, attempt = json.loads(line)
            key = (kind, task, attempt)
            if key not in first or at < first[key]:
                first[key] = at
    return first


def hops(sent: dict[int, float], times: dict, events: list, probe: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    ended: dict[int, float] = {}
    for task, status, _node, at in events:
        if status in ("SUCCEEDED", "FAILED") and task in times:
            ended[task] = at
    for task, t in times.items():
        desired = probe.get(("desired", task, t["attempt"]))
        end_sent = probe.get(("sent_exited", task, t["attempt"]))
        # The task's started_at is the end's time when the exit report overtook the start report:
        # the agent's own start time (in its start report) is the process's.
        started = probe.get(("at_running", task, t["attempt"]), t["started"])
        exited = probe.get(("at_exited", task, t["attempt"]), t["finished"])
        pairs = [("submit -> placed", sent.get(task), t["assigned"]),
                 ("placed -> desired at agent", t["assigned"], desired),
                 ("desired -> process started", desired, started),
                 ("started -> exit seen", started, exited),
                 ("exit seen -> end sent", exited, end_sent),
                 ("end sent -> end recorded", end_sent, ended.get(task))]
        for name, start, end in pairs:
            if start is not None and end is not None:
                out[name].append(end - start)
        if task in ended:
            out["end recorded -> capacity freed"].append(0.0)  # one transaction: the end gives the capacity back
    # capacity freed -> the next placement on that node, for ends while some task of ours was waiting
    placements = defaultdict(list)
    for task, status, node, at in events:
        if status == "ASSIGNED" and task in times:
            placements[node].append(at)
    for node in placements:
        placements[node].sort()
    queued = sorted((sent[task], t["assigned"]) for task, t in times.items() if task in sent and t["assigned"])
    for task, at in ended.items():
        node = times[task]["node"]
        if not any(s < at < a for s, a in queued):
            continue
        later = [p for p in placements.get(node, ()) if p >= at]
        if later:
            out["capacity freed -> next placed"].append(later[0] - at)
    return out


# -- one configuration ---------------------------------------------------------------------------

def run_store(label: str, database_url: str | None, redis_url: str | None, count: int, many: int) -> dict:
    probe_dir = tempfile.mkdtemp(prefix="mini-scheduler-probe-")
    env = {"PYTHONPATH": str(ROOT / "bench" / "probe"), "BENCH_PROBE_DIR": probe_dir}
    result: dict = {"configuration": label, "workloads": {}}
    data_dir = ""
    with cluster(agents=AGENTS, database_url=fresh_postgres(database_url) if database_url else None,
                 redis_url=redis_url, fast_timers=False, env=env) as c:
        data_dir = c.ready["data_dir"]
        available = batch_available(c)
        warm = submit_one_by_one(c, 16, threads=4)
        wait_finished(c, set(warm), 900)
        result["rss_before"] = rss_by_role(c)
        runs = [("(a)", f"{count} one by one, 8 threads", lambda: submit_one_by_one(c, count))]
        runs.append(("(b)", f"{count} as one batch", (lambda: submit_batches(c, count, count)) if available else None))
        runs.append(("(c)", f"{many:,} as batches of {BATCH:,}",
                     (lambda: submit_batches(c, many, BATCH)) if available and many else None))
        sent_by_run = {}
        for key, title, submit in runs:
            if submit is None:
                result["workloads"][key] = {"title": title, "available": False}
                continue
            first = time.time()
            sent = submit()
            wait_finished(c, set(sent), 1800)
            sent_by_run[key] = (first, sent)
            result["workloads"][key] = {"title": title, "available": True}
        result["rss_after"] = rss_by_role(c)
    for key, (first, sent) in sent_by_run.items():
        times, events = read_times(database_url, data_dir, set(sent))
        ends = [at for task, status, _, at in events if task in sent and status in ("SUCCEEDED", "FAILED")]
        failed = sum(1 for task, status, _, _ in events if task in sent and status == "FAILED")
        makespan = max(ends) - first
        per_hop = hops(sent, times, events, read_probe(probe_dir))
        result["workloads"][key].update(
            makespan_s=makespan, tasks=len(sent), failed=failed,
            hops_ms={name: percentile(values, 50) * 1000 for name, values in per_hop.items() if values},
            hops_p90_ms={name: percentile(values, 90) * 1000 for name, values in per_hop.items() if values})
    shutil.rmtree(probe_dir, ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


# -- report --------------------------------------------------------------------------------------

def report(results: list[dict], ray: dict, count: int, many: int) -> list[dict]:
    ray_figures = {"(a)": ray.get("one_by_one_s"), "(b)": ray.get("batch_s"), "(c)": ray.get("many_s")}
    print(f"\nthroughput of 1-CPU, 100 MiB `true` tasks on 2 agents x 8 cores; {os.cpu_count()} CPUs, "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'workload':34} {'system':22} {'makespan s':>11} {'tasks/s':>9} {'vs Ray':>10}")
    rows = []
    titles = {"(a)": f"(a) {count} one by one, 8 threads", "(b)": f"(b) {count} as one batch",
              "(c)": f"(c) {many:,} as batches of {BATCH:,}"}
    for key, title in titles.items():
        tasks = count if key != "(c)" else many
        ray_s = ray_figures.get(key)
        if ray:
            print(f"{title:34} {'Ray ' + ray.get('version', '?'):22} {ray_s:11.2f} {tasks / ray_s:9.1f} {'1.00':>10}")
        for result in results:
            workload = result["workloads"].get(key, {})
            if not workload.get("available"):
                print(f"{'' if ray else title:34} {result['configuration']:22} "
                      "not available (no batch submission)")
                rows.append({"workload": key, "configuration": result["configuration"], "available": False})
                continue
            makespan = workload["makespan_s"]
            ratio = f"{makespan / ray_s:.2f}" if ray_s else "-"
            print(f"{'' if ray else title:34} {result['configuration']:22} {makespan:11.2f} "
                  f"{workload['tasks'] / makespan:9.1f} {ratio:>10}"
                  + (f"   ({workload['failed']} FAILED)" if workload["failed"] else ""))
            rows.append({"workload": key, "title": title, "configuration": result["configuration"],
                         "available": True, "makespan_s": makespan, "tasks_s": workload["tasks"] / makespan,
                         "ray_s": ray_s, "ray_version": ray.get("version"), "failed": workload["failed"]})
    print("\nmedian (p90) of each hop of a task's life, ms")
    for result in results:
        for key, workload in result["workloads"].items():
            if not workload.get("available"):
                continue
            print(f"  {result['configuration']}, {titles[key]}:")
            for name in HOPS:
                if name in workload["hops_ms"]:
                    print(f"    {name:34} {workload['hops_ms'][name]:9.1f} ({workload['hops_p90_ms'][name]:.1f})")
                else:
                    print(f"    {name:34} {'-':>9}")
    print("\nRSS, MiB (before the workloads -> after)")
    for result in results:
        before, after = result["rss_before"], result["rss_after"]
        print(f"  {result['configuration']:22} " + ", ".join(
            f"{role} {before.get(role, 0):.0f} -> {after.get(role, 0):.0f}" for role in sorted(before)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--many", type=int, default=10000)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its database is recreated)")
    parser.add_argument("--redis", help="Redis URL for the PostgreSQL run")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (for bench/run_all.py)")
    args = parser.parse_args()
    ray = {} if args.no_ray else run_ray(args.count, args.many)
    if not args.no_ray and ray:
        print(f"Ray {ray['version']}: (a) {ray['one_by_one_s']:.2f} s, (b) {ray['batch_s']:.2f} s"
              + (f", (c) {ray['many_s']:.2f} s" if "many_s" in ray else ""), flush=True)
    configs = [("SQLite + in-memory", None, None)]
    if args.postgres:
        configs.append(("PostgreSQL + Redis" if args.redis else "PostgreSQL", args.postgres, args.redis))
    results = []
    for label, db, redis in configs:
        print(f"{label}: running", flush=True)
        results.append(run_store(label, db, redis, args.count, args.many))
    rows = report(results, ray, args.count, args.many)
    if args.json:
        write_json(args.json, {"rows": rows, "results": results, "ray": ray})


if __name__ == "__main__":
    main()
