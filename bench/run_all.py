"""Every benchmark in one run, and one table of their figures against the targets (`make bench`).

    .venv/bin/python bench/run_all.py [--quick] [--only placement,latency,...]

Runs, each in its own process with its own output shown as it goes: placement rate and decision
time (bench/placement.py), submit-to-start latency and a burst (bench/latency.py), short tasks
end to end beside Ray (bench/throughput.py), API request overhead (bench/api.py), the log
pipeline with 1,000,000 lines (bench/logs.py), failover after kill -9 of an agent
(bench/failover.py), nodes held by one master (bench/heartbeats.py) and the log viewer in Debian's
chromium (bench/browser.mjs). PostgreSQL from DATABASE_URL (default postgres@127.0.0.1:5432;
each benchmark recreates its own database) and Redis from REDIS_URL (default 127.0.0.1:6379/3).

--quick runs smaller versions of each (minutes, not most of an hour): good for seeing that every
benchmark works; use the full run for figures. A benchmark that fails shows as "failed" in the
table and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import PYTHON  # noqa: E402

Row = tuple[str, str, str, str]  # area, figure, measured, target (with verdict)


def postgres_base() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url.rsplit("/", 1)[0]
    return "postgresql://postgres@127.0.0.1:5432"


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def placement_rows(figures: dict) -> list[Row]:
    rows = []
    for name, rate in figures["median_rate"].items():
        target = f">= 5,000/s: {verdict(rate >= 5000)}" if name == "postgresql" else ""
        rows.append(("placement", f"placements/s, {name} ({figures['nodes']:,} nodes, {figures['tasks']:,} tasks)",
                     f"{rate:,.0f}", target))
    for nodes, micros in figures["decisions_us"].items():
        rows.append(("placement", f"one decision at {int(nodes):,} nodes", f"{micros:.1f} us", ""))
    return rows


def latency_rows(figures: list[dict]) -> list[Row]:
    rows = []
    for row in figures:
        config = row["configuration"]
        rows.append(("latency", f"submit-to-start p50, {config}", f"{row['p50_ms']:.1f} ms",
                     f"< 10 ms: {verdict(row['p50_ms'] < 10)}"))
        rows.append(("latency", f"submit-to-start p99, {config}", f"{row['p99_ms']:.1f} ms",
                     f"< 50 ms: {verdict(row['p99_ms'] < 50)}"))
        rows.append(("latency", f"burst of {row['burst']} x 1-CPU tasks on 16 CPUs, {config}",
                     f"{row['burst_s']:.2f} s", ""))
    return rows


def throughput_rows(figures: dict) -> list[Row]:
    ray = figures.get("ray") or {}
    rows = [("throughput", f"Ray {ray['version']}: (a) / (b) / (c) makespan",
             " / ".join(f"{ray[key]:.2f} s" for key in ("one_by_one_s", "batch_s", "many_s") if key in ray), "")
            ] if ray else [("throughput", "Ray", "not run", "see the benchmark's output")]
    for row in figures["rows"]:
        where = f"{row['workload']} {row.get('title', '')[4:]}, {row['configuration']}".replace("  ", " ")
        if not row["available"]:
            rows.append(("throughput", f"{row['workload']}, {row['configuration']}", "not available",
                         "needs batch submission"))
            continue
        ray = row.get("ray_s")
        if row["workload"] == "(c)":
            target = 1000 if row["configuration"].startswith("SQLite") else 500
            verdict_ = f">= {target}/s: {verdict(row['tasks_s'] >= target)}"
        else:
            verdict_ = f"<= Ray's {ray:.2f} s: {verdict(row['makespan_s'] <= ray)}" if ray else "Ray not run"
        rows.append(("throughput", where, f"{row['makespan_s']:.2f} s, {row['tasks_s']:.0f}/s"
                     + (f", {row['makespan_s'] / ray:.2f}x Ray" if ray else ""), verdict_))
    return rows


def api_rows(figures: list[dict]) -> list[Row]:
    targets = {"GET /api/v1/nodes": 3.0, "POST /api/v1/tasks": 5.0}
    return [("api", f"{row['endpoint']} p50 / p99, {row['store']}",
             f"{row['p50_ms']:.1f} / {row['p99_ms']:.1f} ms ({row['cpu_ms']:.1f} ms master CPU)",
             f"p50 <= {targets[row['endpoint']]:g} ms: {verdict(row['p50_ms'] <= targets[row['endpoint']])}")
            for row in figures]


def logs_rows(figures: dict) -> list[Row]:
    rows = []
    for row in figures["rows"]:
        where = f"{row['workload']}, {row['configuration']}"
        ratio = row["runtime"] / row["file"]
        rows.append(("logs", f"{figures['lines']:,} lines: runtime / to a file, {where}", f"{ratio:.2f}",
                     f"<= 1.2: {verdict(ratio <= 1.2)}"))
        rows.append(("logs", f"stored after the process ended, {where}", f"{row['stored_after']:.2f} s", ""))
        rows.append(("logs", f"to a WebSocket subscriber, {where}",
                     f"{row['mb_s']:.1f} MB/s, {row['lines_s']:,.0f} lines/s",
                     "every line, once, in order: " + ("yes" if row["complete"] else "NO")))
    return rows


def failover_rows(figures: list[dict]) -> list[Row]:
    return [("failover", f"kill -9 of an agent -> task RUNNING elsewhere, timers {row['timers']}",
             f"p50 {row['p50_s']:.2f} s, max {row['max_s']:.2f} s",
             f"<= {row['target_s']:g} s: {verdict(row['max_s'] <= row['target_s'])}") for row in figures]


def heartbeat_rows(figures: dict) -> list[Row]:
    rows = [("heartbeats", "largest node count held (p99 < 100 ms, no false UNHEALTHY)", f"{figures['held']:,}",
             f">= 10,000: {verdict(figures['held'] >= 10000)}")]
    for step in figures["steps"]:
        rows.append(("heartbeats", f"{step['nodes']:,} nodes: p50 / p99 heartbeat round trip",
                     f"{step['p50_ms']:.1f} / {step['p99_ms']:.1f} ms", f"{step['unhealthy']} false UNHEALTHY"))
    return rows


def browser_rows(figures: dict) -> list[Row]:
    rows = []
    stream = figures.get("stream", {}).get("ours", {})
    if stream:
        rows += [
            ("browser", "streaming: longest task (wall clock)", f"{stream['longest task ms (wall)']} ms",
             f"<= 50 ms: {verdict(stream['longest task ms (wall)'] <= 50)}"),
            ("browser", "streaming: p95 frame interval", f"{stream['p95 frame ms']} ms",
             f"<= 16.7 ms: {verdict(stream['p95 frame ms'] <= 16.7)}"),
            ("browser", "streaming: log-line elements in the DOM (max)", str(stream["log-line elements (max)"]),
             "bounded by the viewport"),
            ("browser", "streaming: JS heap", f"{stream['JS heap MB']} MB", ""),
        ]
    history = figures.get("history", {}).get("ours", {})
    if history:
        first = history["first line painted ms (from log socket)"]
        rows.append(("browser", "finished log: first line painted (from the log socket)", f"{first} ms",
                     f"< 100 ms: {verdict(first < 100)}"))
        rows.append(("browser", "finished log: all lines held and painted",
                     f"{history['all lines held + painted ms (from log socket)']} ms", ""))
    million = figures.get("million", {}).get("ours", {})
    if million:
        heap = million["JS heap MB (1M lines held)"]
        rows.append(("browser", "1,000,000 lines held: JS heap", f"{heap} MB", f"< 150 MB: {verdict(heap < 150)}"))
        rows.append(("browser", "1,000,000 lines: search",
                     f"{million['search ms (driver side, 120 ms debounce included)']} ms", ""))
    return rows


def benchmarks(quick: bool) -> dict[str, tuple[list[str], dict[str, str], Callable[[object], list[Row]]]]:
    base = postgres_base()
    redis = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"
    py = [PYTHON]
    return {
        "placement": (py + ["bench/placement.py", "--redis", redis] + (["--repeat", "1"] if quick else []),
                      {"DATABASE_URL": f"{base}/mini_scheduler_bench"}, placement_rows),
        "latency": (py + ["bench/latency.py", "--postgres", f"{base}/mini_scheduler_bench_latency", "--redis", redis]
                    + (["--samples", "50", "--burst", "100"] if quick else []), {}, latency_rows),
        "throughput": (py + ["bench/throughput.py", "--postgres", f"{base}/mini_scheduler_bench_throughput",
                              "--redis", redis] + (["--count", "100", "--many", "2000"] if quick else []),
                       {}, throughput_rows),
        "api": (py + ["bench/api.py"] + (["--requests", "600", "--rounds", "3"] if quick else []), {}, api_rows),
        "api-postgres": (py + ["bench/api.py", "--postgres", f"{base}/mini_scheduler_bench_api", "--redis", redis]
                         + (["--requests", "600", "--rounds", "3"] if quick else []), {}, api_rows),
        "logs": (py + ["bench/logs.py", "--postgres", f"{base}/mini_scheduler_bench_logs", "--redis", redis]
                 + (["--lines", "200000", "--rounds", "1"] if quick else []), {}, logs_rows),
        "failover": (py + ["bench/failover.py"] + (["--fast-only", "--runs", "1"] if quick else ["--runs", "2"]),
                     {}, failover_rows),
        "heartbeats": (py + ["bench/heartbeats.py", "--database-url", f"{base}/mini_scheduler_heartbeats"]
                       + (["--steps", "1000,2500", "--duration", "10"] if quick
                          else ["--steps", "2500,5000,7500,10000,12500", "--duration", "30"]), {}, heartbeat_rows),
        "browser": (["node", "bench/browser.mjs"],
                    {"BENCH_SECONDS": "10", "BENCH_HISTORY": "20000", "BENCH_MILLION": "0"} if quick else {},
                    browser_rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs of each benchmark")
    parser.add_argument("--only", help="comma-separated benchmark names")
    args = parser.parse_args()
    chosen = benchmarks(args.quick)
    if args.only:
        unknown = set(args.only.split(",")) - set(chosen)
        if unknown:
            raise SystemExit(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}; known: {', '.join(chosen)}")
        chosen = {name: spec for name, spec in chosen.items() if name in args.only.split(",")}
    table: list[Row] = []
    failed: list[str] = []
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mini-scheduler-bench-all-") as tmp:
        for name, (argv, env, to_rows) in chosen.items():
            out = Path(tmp) / f"{name}.json"
            print(f"\n=== {name}: {' '.join(argv)}", flush=True)
            started = time.monotonic()
            env = {**os.environ, **env, "BENCH_JSON": str(out)}
            command = argv if name == "browser" else [*argv, "--json", str(out)]
            result = subprocess.run(command, cwd=ROOT, env=env)
            timings[name] = time.monotonic() - started
            if result.returncode != 0 or not out.exists():
                failed.append(name)
                table.append((name, "(the benchmark failed: see its output above)", "failed", ""))
                continue
            table.extend(to_rows(json.loads(out.read_text())))
    print(f"\n=== mini-scheduler benchmarks{' (quick)' if args.quick else ''}: {os.cpu_count()} CPUs, "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()))
    widths = [max(len(row[i]) for row in table) for i in range(4)] if table else [0] * 4
    header = ("area", "figure", "measured", "target")
    widths = [max(width, len(title)) for width, title in zip(widths, header, strict=True)]
    for row in (header, *table):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if failed:
        print(f"failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
