"""A real cluster for tests: daphne, sweeper(s) and agents as subprocesses, sharing the test
database (tests using it are `django_db(transaction=True)` so what they write is committed).

Timers are short (heartbeat 0.5 s, unhealthy 1.5 s, offline 3 s) unless a test asks otherwise.
Every process's output goes to `logs/NAME.log`; when the cluster stops, the `cluster` fixture fails
the test on any ERROR line or traceback in them that the test did not declare with `expect_log`
(tests/logguard.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.db import connection

from scheduler_site.models import ApiToken
from tests import logguard

ROOT = Path(__file__).resolve().parent.parent
FAST_TIMERS = {
    "SCHEDULER_HEARTBEAT_INTERVAL": "0.5",
    "SCHEDULER_UNHEALTHY_AFTER": "1.5",
    "SCHEDULER_OFFLINE_AFTER": "3",
    "SCHEDULER_SWEEP_INTERVAL": "0.2",
    "SCHEDULER_KILL_GRACE": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test run uses (pytest-django's test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(predicate: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05, what: str = "",
             explain: Callable[[], Any] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    detail = explain() if explain else last
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: {detail!r}")


class Cluster:
    def __init__(self, workdir: Path, *, timers: dict[str, str] | None = None, user=None) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
        self.env.update(
            DATABASE_URL=test_database_url(),
            DJANGO_SECRET_KEY=settings.SECRET_KEY,
            SCHEDULER_JOIN_TOKEN=settings.SCHEDULER_JOIN_TOKEN,
            PYTHONUNBUFFERED="1",
            **(timers if timers is not None else FAST_TIMERS),
        )
        if settings.REDIS_URL:
            self.env["REDIS_URL"] = settings.REDIS_URL
        self.processes: dict[str, subprocess.Popen] = {}
        self.expected: list[logguard.Expected] = []
        self.masters: list[str] = []
        self.ports: dict[str, int] = {}
        self.api = requests.Session()
        if user is not None:
            _, token = ApiToken.issue(user=user)
            self.api.headers["Authorization"] = f"Token {token}"
            self.token = token

    # -- processes ------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start_master(self, name: str = "master", *, port: int | None = None, connect_timeout: int | None = None) -> str:
        """`connect_timeout`: daphne's --websocket_connect_timeout (default 5 s), the longest a
        WebSocket handshake may wait for the application before daphne drops it."""
        port = port or free_port()
        self.ports[name] = port
        url = f"http://127.0.0.1:{port}"
        options = ["--websocket_connect_timeout", str(connect_timeout)] if connect_timeout else []
        process = self._spawn(name, [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *options,
                                     "scheduler_site.asgi:application"], self.env)

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited: {self.log(name)[-2000:]}")
            try:
                return requests.get(f"{url}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=30, what=f"{name} to answer")
        if url not in self.masters:
            self.masters.append(url)
        return url

    def restart_master(self, name: str = "master") -> str:
        """kill -9 the master, then start it again on the same port."""
        self.kill(name)
        return self.start_master(name, port=self.ports[name])

    @property
    def url(self) -> str:
        return self.masters[0]

    def start_sweeper(self, name: str = "sweeper") -> subprocess.Popen:
        return self._spawn(name, [sys.executable, str(ROOT / "manage.py"), "sweepnodes"], self.env)

    def start_agent(self, name: str, *, cpu: float = 2, mem: int = 2048, labels: str = "", master: str | None = None,
                    wait: bool = True, options: tuple[str, ...] = (),
                    env: dict[str, str | None] | None = None) -> subprocess.Popen:
        """`env` adds to the agent's environment (None removes a variable)."""
        agent_env = {k: v for k, v in self.env.items() if k not in ("DATABASE_URL", "DJANGO_SECRET_KEY")}
        for key, value in (env or {}).items():
            if value is None:
                agent_env.pop(key, None)
            else:
                agent_env[key] = value
        argv = [sys.executable, str(ROOT / "manage.py"), "runworker", "--master", master or self.url,
                "--name", name, "--cpu", str(cpu), "--mem", str(mem), "--state-dir", str(self.workdir / name)]
        if labels:
            argv += ["--labels", labels]
        argv += options
        process = self._spawn(f"agent-{name}", argv, agent_env)
        if wait:
            self.wait_node(name, "ONLINE")
        return process

    def signal(self, name: str, sig: int) -> None:
        os.kill(self.processes[name].pid, sig)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the agents first (they tell a master they leave), then to the rest."""
        agents = [p for name, p in self.processes.items() if name.startswith("agent-")]
        others = [p for name, p in self.processes.items() if not name.startswith("agent-")]
        for group in (agents, others):
            for process in group:
                if process.poll() is None:
                    try:
                        os.kill(process.pid, signal.SIGCONT)
                    except OSError:
                        pass
                    process.send_signal(signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)

    # -- the error-log guard -----------------------------------------------------------------

    def expect_log(self, pattern: str, *, process: str) -> None:
        """Declare an error this test provokes on purpose: a regular expression searched in the
        offending log entry of the processes named by the glob `process` ("agent-a", "master*").
        Keep it narrow: the message of the error you cause, not a level or a logger."""
        self.expected.append(logguard.Expected.of(pattern, process))

    def check_logs(self) -> None:
        """Fail on any ERROR/CRITICAL line or traceback in the processes' logs not declared."""
        logguard.check(logguard.read_dir(self.logs), self.expected, where=str(self.logs))

    # -- the API ---------------------------------------------------------------------------

    def submit(self, command: str, *, master: str | None = None, **fields) -> dict:
        response = self.api.post(f"{master or self.url}/api/v1/tasks", json={"command": command, **fields}, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def task(self, task_id: int) -> dict:
        return self.api.get(f"{self.url}/api/v1/tasks/{task_id}", timeout=10).json()

    def node(self, name: str) -> dict | None:
        nodes = self.api.get(f"{self.url}/api/v1/nodes?page_size=1000", timeout=10).json()["results"]
        return next((n for n in nodes if n["name"] == name), None)

    def wait_node(self, name: str, status: str, *, timeout: float = 20) -> dict:
        return wait_for(lambda: (n := self.node(name)) and n["status"] == status and n,
                        timeout=timeout, what=f"node {name} {status}")

    def wait_task(self, task_id: int, *statuses: str, timeout: float = 20) -> dict:
        return wait_for(lambda: (t := self.task(task_id))["status"] in statuses and t,
                        timeout=timeout, what=f"task {task_id} to be {statuses}", explain=lambda: self.task(task_id))

    def logs_text(self, task_id: int, attempt: int | None = None) -> str:
        params = f"?attempt={attempt}" if attempt else ""
        response = self.api.get(f"{self.url}/api/v1/tasks/{task_id}/logs/raw{params}", timeout=30)
        return response.text
