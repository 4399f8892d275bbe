"""The scheduler's processes for the soak: masters (daphne), sweepers (`manage.py sweepnodes`) and
agents (`manage.py runworker`, each inside its namespace), started, killed, frozen and restarted by
name. Only `manage.py` commands and daphne are run: nothing of the scheduler is imported here.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.soak.netns import AgentNetwork
from bench.soak.services import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable

# The test suite's short timers (tests/cluster.py FAST_TIMERS), so a lost node is requeued in seconds.
FAST_TIMERS = {
    "SCHEDULER_HEARTBEAT_INTERVAL": "0.5",
    "SCHEDULER_UNHEALTHY_AFTER": "1.5",
    "SCHEDULER_OFFLINE_AFTER": "3",
    "SCHEDULER_SWEEP_INTERVAL": "0.2",
    "SCHEDULER_KILL_GRACE": "1",
    "SCHEDULER_TASK_LEASE": "1",  # the soak checks that no task runs to the end twice: agents hold the lease
}


@dataclass(frozen=True)
class AgentSpec:
    name: str
    cpu: float = 2
    mem: int = 2048


class SoakCluster:
    def __init__(self, workdir: Path, *, database_url: str, redis_url: str, network: AgentNetwork,
                 agents: list[AgentSpec], masters: int = 2, sweepers: int = 2,
                 timers: dict[str, str] | None = None, daphne_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.network = network
        self.agents = {spec.name: spec for spec in agents}
        self.master_ports = {f"master-{i + 1}": free_port() for i in range(masters)}
        self.sweeper_names = [f"sweeper-{i + 1}" for i in range(sweepers)]
        self.timers = dict(timers or FAST_TIMERS)
        self.daphne_args = tuple(daphne_args)
        self.join_token = secrets.token_urlsafe(24)
        self.password = secrets.token_urlsafe(12)
        self.proxy_url = ""  # set once nginx runs: where agents connect
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("SCHEDULER_", "DJANGO_")) and k not in ("DATABASE_URL", "REDIS_URL")}
        self.env = {
            **base,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "SCHEDULER_JOIN_TOKEN": self.join_token,
            "DJANGO_ALLOWED_HOSTS": f"127.0.0.1,localhost,{network.hub_address}",
            "PYTHONUNBUFFERED": "1",
            **self.timers,
        }
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def kill_grace(self) -> float:
        return float(self.timers["SCHEDULER_KILL_GRACE"])

    @property
    def heartbeat(self) -> float:
        return float(self.timers["SCHEDULER_HEARTBEAT_INTERVAL"])

    @property
    def offline_after(self) -> float:
        return float(self.timers["SCHEDULER_OFFLINE_AFTER"])

    def manage(self, *args: str) -> None:
        subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=self.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def prepare(self) -> None:
        """Schema and the operator login the harness uses."""
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("ensureadmin", "--username", "chaos", "--password", self.password)

    # -- processes ---------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start(self, name: str) -> subprocess.Popen:
        if name in self.master_ports:
            return self._start_master(name)
        if name in self.sweeper_names:
            return self._spawn(name, [PYTHON, str(ROOT / "manage.py"), "sweepnodes"], self.env)
        return self._start_agent(name.removeprefix("agent-"))

    def _start_master(self, name: str) -> subprocess.Popen:
        port = self.master_ports[name]
        # As the master's systemd unit (docs/deploy): a listen backlog for a storm of reconnects.
        process = self._spawn(name, [PYTHON, "-m", "daphne", *self.daphne_args,
                                     "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
                                     "--websocket_connect_timeout", "30",
                                     "scheduler_site.asgi:application"], self.env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.logs / name}.log")
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    return process
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer /healthz within 90 s")

    def _start_agent(self, node: str) -> subprocess.Popen:
        spec = self.agents[node]
        env = {k: v for k, v in self.env.items() if k not in ("DATABASE_URL", "DJANGO_SECRET_KEY", "REDIS_URL")}
        argv = [PYTHON, str(ROOT / "manage.py"), "runworker", "--master", self.proxy_url, "--name", node,
                "--cpu", f"{spec.cpu:g}", "--mem", str(spec.mem), "--state-dir", str(self.workdir / "agents" / node)]
        return self._spawn(f"agent-{node}", self.network.wrap(node, argv), env)

    def all_names(self) -> list[str]:
        return [*self.master_ports, *self.sweeper_names, *(f"agent-{n}" for n in self.agents)]

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str) -> None:
        """kill -9 of the process alone (an agent's guardian notices and kills its tasks)."""
        process = self.processes[name]
        try:
            process.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def freeze(self, name: str) -> None:
        os.kill(self.processes[name].pid, signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        os.kill(self.processes[name].pid, signal.SIGCONT)

    def pids(self, prefix: str) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items() if name.startswith(prefix) and p.poll() is None}

    def stop(self) -> None:
        for _name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                try:
                    os.kill(process.pid, signal.SIGCONT)
                    process.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=5)
