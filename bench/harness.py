"""Bring up a local cluster for a benchmark (through `manage.py demo`) and talk to it. When it
stops, every process's log is checked with the error-log guard (tests/logguard.py): an ERROR line
or a traceback the benchmark did not declare (`expect`) fails the benchmark."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import logguard  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    url: str
    token: str
    ready: dict
    api: requests.Session
    pid: int = 0  # the `manage.py demo` process; its children are the cluster's processes

    def processes(self) -> dict[str, list]:
        """The cluster's processes by role: master, agent, sweeper (psutil.Process objects)."""
        import psutil

        roles: dict[str, list] = {}
        for child in psutil.Process(self.pid).children(recursive=True):
            try:
                line = " ".join(child.cmdline())
            except psutil.Error:
                continue
            role = "agent" if "runworker" in line else "sweeper" if "sweepnodes" in line else \
                "master" if "daphne" in line or "asgi" in line else None
            if role:
                roles.setdefault(role, []).append(child)
        return roles

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each role: master, agent, sweeper."""
        import psutil

        used: dict[str, float] = {}
        for role, processes in self.processes().items():
            for process in processes:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                used[role] = used.get(role, 0.0) + times.user + times.system
        return used

    def submit(self, command: str, **fields) -> dict:
        response = self.api.post(f"{self.url}/api/v1/tasks", json={"command": command, **fields}, timeout=30)
        response.raise_for_status()
        return response.json()

    def task(self, task_id: int) -> dict:
        return self.api.get(f"{self.url}/api/v1/tasks/{task_id}", timeout=30).json()

    def wait(self, task_id: int, statuses: set[str], timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.task(task_id)
            if task["status"] in statuses:
                return task
            time.sleep(0.02)
        raise TimeoutError(f"task {task_id} not {statuses} after {timeout}s")


@contextlib.contextmanager
def cluster(*, agents: str, database_url: str | None = None, redis_url: str | None = None,
            fast_timers: bool = True, env: dict | None = None,
            expect: tuple[tuple[str, str], ...] = ()) -> Iterator[Cluster]:
    """A `manage.py demo` cluster; `expect` declares (process glob, regex) errors the benchmark
    provokes on purpose, e.g. ("agent-a", r"...")."""
    data_dir = tempfile.mkdtemp(prefix="mini-scheduler-bench-")
    argv = [PYTHON, str(ROOT / "manage.py"), "demo", "--port", str(free_port()), "--data-dir", data_dir,
            "--agents", agents]
    if fast_timers:
        argv.append("--fast-timers")
    if database_url:
        argv += ["--database-url", database_url]
    if redis_url:
        argv += ["--redis-url", redis_url]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **(env or {})}, start_new_session=True)
    ready = None
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("READY "):
            ready = json.loads(line[6:])
            break
    if ready is None:
        process.wait()
        raise RuntimeError("the cluster did not start:\n" + "".join(output[-40:]))
    api = requests.Session()
    api.headers["Authorization"] = f"Token {ready['token']}"
    try:
        yield Cluster(url=ready["url"], token=ready["token"], ready=ready, api=api, pid=process.pid)
    except BaseException:
        _stop(process)
        raise
    _stop(process)
    logguard.check(logguard.read_dir(Path(data_dir) / "logs"), [logguard.Expected.of(pattern, name)
                                                               for name, pattern in expect],
                   where=f"{data_dir}/logs")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def fresh_postgres(url: str) -> str:
    """Drop and create the database named in `url` (for benchmarks on PostgreSQL)."""
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def write_json(path: str, figures: object) -> None:
    """A benchmark's figures for `bench/run_all.py`."""
    Path(path).write_text(json.dumps(figures, indent=2, default=str))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
