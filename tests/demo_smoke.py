"""The front door, as a user meets it: `make demo` on this checkout (embedded SQLite, the in-memory
channel layer, default timers), driven through the API for about a minute, then stopped. Fails
when a step does not do what the README says, or when any process of the demo (master, sweeper,
agents, the launcher itself) logged an ERROR line or a traceback the run did not provoke.

    make demo-smoke                              # what .ci/run runs
    .venv/bin/python tests/demo_smoke.py [--keep] [--command "make demo"]

Steps: log in for a token; submit a task and read its log; cancel a running task; drain a node
(a task for it waits) and undrain it (the task runs); kill -9 an agent running a task and see the
task requeued when its node goes OFFLINE; the API docs and the dashboard answer; agents heartbeat
over their WebSocket. Prints one line per step and closes with "N passed, N failed".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import logguard  # noqa: E402

# What the run provokes on purpose: none so far. kill -9 of an agent shows in the master's and
# sweeper's logs as warnings and info (node lost, tasks requeued), never as an error.
EXPECTED: list[logguard.Expected] = []
STARTUP_TIMEOUT = 900  # seconds: on a fresh clone `make demo` installs the venv and builds the dashboard first


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


class Demo:
    """`make demo` in its own data dir on a free port; its output is kept for the guard."""

    def __init__(self, command: str, *, data_dir: Path, port: int, exit_after: float) -> None:
        self.data_dir, self.port = data_dir, port
        args = f"--port {port} --data-dir {shlex.quote(str(data_dir))} --exit-after {exit_after:g}"
        argv = shlex.split(command) + ([f"ARGS={args}"] if command.split()[0] == "make" else shlex.split(args))
        self.output: list[str] = []
        self.ready: dict | None = None
        self._ready = threading.Event()
        print(f"# {' '.join(shlex.quote(a) for a in argv)}", flush=True)
        self.process = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                        env={k: v for k, v in os.environ.items()
                                             if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("READY "):
                self.ready = json.loads(line[6:])
                self._ready.set()
        self._ready.set()

    def wait_ready(self) -> dict:
        self._ready.wait(STARTUP_TIMEOUT)
        if self.ready is None:
            raise AssertionError("the demo did not come up:\n" + "".join(self.output[-40:]))
        return self.ready

    def stop(self) -> int:
        """Ctrl-C as a user stops it (SIGINT to the launcher, which stops its processes), then wait
        for everything to end."""
        launcher = self._launcher_pid()
        if launcher and self.process.poll() is None:
            try:
                os.kill(launcher, signal.SIGINT)
            except ProcessLookupError:
                pass
        elif self.process.poll() is None:  # still installing or building: nothing of ours runs yet
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            for pid in self._pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.process.wait(timeout=10)
            raise AssertionError("the demo did not stop within 90 s of Ctrl-C") from None

    def _launcher_pid(self) -> int | None:
        """`manage.py demo` itself: from READY, or from its lock file (written before it starts anything)."""
        if self.ready is not None:
            return self.ready["pid"]
        holder = re.match(r"pid (\d+)", (self.data_dir / "demo.lock").read_text()) \
            if (self.data_dir / "demo.lock").exists() else None
        return int(holder.group(1)) if holder else None

    def _pids(self) -> list[int]:
        ready = self.ready or {}
        return [*ready.get("agents", {}).values(), ready.get("master", 0), ready.get("sweeper", 0)]


class Driver:
    """The user's side: an API session with the token from logging in."""

    def __init__(self, ready: dict) -> None:
        self.ready, self.base = ready, ready["url"]
        self.api = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def call(self, method: str, path: str, *, expect: int = 200, **kwargs) -> Any:
        response = self.api.request(method, self.url(path), timeout=15, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json() if "json" in response.headers.get("content-type", "") else response.text

    def task(self, task_id: int) -> dict:
        return self.call("GET", f"/api/v1/tasks/{task_id}")

    def wait_task(self, task_id: int, *statuses: str, timeout: float = 30) -> dict:
        return wait_for(lambda: (t := self.task(task_id))["status"] in statuses and t, timeout=timeout,
                        what=f"task {task_id} {'/'.join(statuses)}")

    def node(self, name: str) -> dict:
        nodes = self.call("GET", "/api/v1/nodes", params={"page_size": 1000})["results"]
        return next(n for n in nodes if n["name"] == name)

    def submit(self, command: str, **fields) -> dict:
        return self.call("POST", "/api/v1/tasks", expect=201, json={"command": command, "cpu": 0.5, "mem": 64,
                                                                    **fields})

    # -- the steps ---------------------------------------------------------------------------

    def log_in(self) -> None:
        answer = self.call("POST", "/api/v1/auth/token", expect=201,
                           json={"username": self.ready["username"], "password": self.ready["password"]})
        self.api.headers["Authorization"] = f"Token {answer['token']}"
        assert self.call("GET", "/api/v1/auth/me")["username"] == self.ready["username"]

    def submit_and_read_the_log(self) -> None:
        task = self.submit("echo hello from the demo; echo on stderr >&2")
        done = self.wait_task(task["id"], "SUCCEEDED", "FAILED")
        assert done["status"] == "SUCCEEDED" and done["exit_code"] == 0, done
        text = self.call("GET", f"/api/v1/tasks/{task['id']}/logs/raw")
        assert "hello from the demo" in text and "on stderr" in text, text

    def cancel_a_running_task(self) -> None:
        task = self.submit("sleep 300")
        self.wait_task(task["id"], "RUNNING")
        self.call("POST", f"/api/v1/tasks/{task['id']}/cancel")
        self.wait_task(task["id"], "CANCELLED", timeout=20)

    def drain_and_undrain_a_node(self) -> None:
        small = self.node("small")
        self.call("POST", f"/api/v1/nodes/{small['id']}/drain")
        assert self.node("small")["draining"] is True
        task = self.submit("echo ran on $SCHEDULER_NODE", node_selector={"size": "small"})
        time.sleep(1)
        waiting = self.task(task["id"])
        assert waiting["status"] == "PENDING", waiting
        self.call("POST", f"/api/v1/nodes/{small['id']}/undrain")
        done = self.wait_task(task["id"], "SUCCEEDED", "FAILED")
        assert done["status"] == "SUCCEEDED" and done["node_name"] == "small", done

    def kill_an_agent_and_see_its_task_requeued(self) -> None:
        task = self.submit("sleep 600", node_selector={"size": "medium"})
        running = self.wait_task(task["id"], "RUNNING")
        assert running["node_name"] == "medium", running
        os.kill(self.ready["agents"]["medium"], signal.SIGKILL)
        # Default timers: UNHEALTHY after 10 s, OFFLINE (and the task requeued) after 30 s.
        wait_for(lambda: self.node("medium")["status"] == "OFFLINE", timeout=60, what="node medium OFFLINE")
        requeued = self.wait_task(task["id"], "PENDING", timeout=15)
        assert any(e["reason"] == "NodeLost" and e["to_status"] == "PENDING" for e in requeued["events"]), requeued
        self.call("POST", f"/api/v1/tasks/{task['id']}/cancel")  # nothing else fits its selector now
        self.wait_task(task["id"], "CANCELLED")

    def docs_and_dashboard_answer(self) -> None:
        page = self.call("GET", "/api/docs/")
        assert "swagger" in page.lower()
        for src in re.findall(r'(?:src|href)="([^"]+)"', page):
            assert src.startswith("/"), f"the docs page loads {src} from elsewhere"
            self.call("GET", src)
        assert 'id="app"' in self.call("GET", "/")

    def agents_heartbeat_over_their_websocket(self) -> None:
        text = self.call("GET", "/metrics")
        beats = re.search(r'^scheduler_heartbeats_total\{transport="websocket"\} ([0-9.e+]+)$', text, re.M)
        assert beats and float(beats.group(1)) > 0, "no heartbeat arrived over the agents' WebSocket"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", default="make --no-print-directory demo",
                        help="how to start the demo (default: %(default)s; ARGS= is added for make)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (store and logs) afterwards")
    parser.add_argument("--exit-after", type=float, default=600,
                        help="the demo's own bound, in case this driver dies (default: %(default)s s)")
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="mini-scheduler-demo-smoke-"))
    demo = Demo(args.command, data_dir=data_dir, port=free_port(), exit_after=args.exit_after)
    passed = failed = 0

    def step(name: str, run: Callable[[], None]) -> bool:
        nonlocal passed, failed
        started = time.monotonic()
        try:
            run()
        except Exception as error:  # every step reports, then the run goes on or stops
            failed += 1
            print(f"✗ {name} ({time.monotonic() - started:.1f} s)\n    {error}", flush=True)
            return False
        passed += 1
        print(f"✓ {name} ({time.monotonic() - started:.1f} s)", flush=True)
        return True

    try:
        holder: dict = {}
        if step("make demo comes up", lambda: holder.update(ready=demo.wait_ready())):
            driver = Driver(holder["ready"])
            if step("log in for a token", driver.log_in):
                step("submit a task and read its log", driver.submit_and_read_the_log)
                step("cancel a running task", driver.cancel_a_running_task)
                step("drain a node, a task waits; undrain it, the task runs", driver.drain_and_undrain_a_node)
                step("kill -9 an agent: its node goes OFFLINE, its task is requeued",
                     driver.kill_an_agent_and_see_its_task_requeued)
                step("API docs (assets served here) and dashboard answer", driver.docs_and_dashboard_answer)
                step("agents heartbeat over their WebSocket", driver.agents_heartbeat_over_their_websocket)
    finally:
        def stopped() -> None:
            code = demo.stop()
            assert code == 0, f"make demo exited with {code}"

        step("Ctrl-C stops every process", stopped)
        logs = {**logguard.read_dir(data_dir / "logs"), "make-demo": "".join(demo.output)}
        step(f"no unexpected ERROR line or traceback in {len(logs)} process logs",
             lambda: logguard.check(logs, EXPECTED, where=str(data_dir / "logs")))
        if failed:
            print("# last lines of make demo:\n" + "".join(demo.output[-25:]), flush=True)
        if args.keep or failed:
            print(f"# data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"demo smoke: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
