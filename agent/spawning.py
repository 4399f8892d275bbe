"""Starting a task's process: `/bin/sh -c COMMAND` (wrapped by the memory limiter) in its own
session and process group, stdout and stderr straight into the attempt's spool files (a process
never waits on the agent: it writes at file speed), its working directory, its environment, and
its CPUs when it has cores of its own. What happens after the start is `agent.reaping`'s.

A task's environment is its `env`, the documented SCHEDULER_* variables and a short documented
pass-through list of the agent's own (PASS_THROUGH_ENV and LC_*); nothing else of the agent's
environment (its join token above all) reaches the task. Run as a task user (agent/isolation.py),
the process gets that user's uid, gid and groups, and USER, LOGNAME and HOME say so.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from agent.cpus import spawn_on
from agent.isolation import TaskUser
from agent.limits import CgroupV2Memory, CpuPinning, SessionWatchdog
from agent.spool import AttemptSpool

log = logging.getLogger("agent.spawning")

PASS_THROUGH_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SHELL", "TERM")


@dataclass
class TaskSpec:
    task: int
    attempt: int
    command: str
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    cpu: int = 1000
    mem: int = 256
    name: str = ""

    @classmethod
    def from_assignment(cls, assignment: Mapping) -> TaskSpec:
        """The spec of a desired assignment (agent.protocol.assignment) yet to start."""
        return cls(
            task=int(assignment["task"]), attempt=int(assignment["attempt"]), command=assignment["command"],
            env=dict(assignment.get("env") or {}), timeout=assignment.get("timeout"),
            cpu=int(assignment.get("cpu") or 0), mem=int(assignment.get("mem") or 0),
            name=assignment.get("name") or "",
        )

    @property
    def key(self) -> tuple[int, int]:
        return self.task, self.attempt


@dataclass
class RunningTask:
    spec: TaskSpec
    process: subprocess.Popen
    spool: AttemptSpool
    pidfd: int
    workdir: Path
    started_at: float
    deadline: float | None
    exit_code: int | None = None
    exit_reason: str | None = None  # an agent.protocol.ExitReason: timeout | oom | killed
    exited_at: float | None = None
    term_sent: float | None = None
    kill_reason: str | None = None
    done: bool = False

    @property
    def key(self) -> tuple[int, int]:
        return self.spec.task, self.spec.attempt

    @property
    def pid(self) -> int:
        return self.process.pid


def task_environment(spec: TaskSpec, node_name: str, *, user: TaskUser | None = None,
                     workdir: Path | None = None) -> dict[str, str]:
    """The agent's harmless basics (those of the task user, when there is one), the task's env, and
    the SCHEDULER_ variables."""
    env = {key: os.environ[key] for key in PASS_THROUGH_ENV if key in os.environ}
    env.update({key: value for key, value in os.environ.items() if key.startswith("LC_")})
    if user is not None:
        env.update(user.environment(workdir or Path("/")))
    env.update(spec.env)
    env.update(
        SCHEDULER_TASK_ID=str(spec.task),
        SCHEDULER_ATTEMPT=str(spec.attempt),
        SCHEDULER_NODE=node_name,
        SCHEDULER_TASK_NAME=spec.name,
        SCHEDULER_CPU=f"{spec.cpu / 1000:g}",
        SCHEDULER_MEM=str(spec.mem),
    )
    return env


class Spawner:
    def __init__(self, *, node_name: str, limiter: CgroupV2Memory | SessionWatchdog,
                 pinning: CpuPinning | None = None, user: TaskUser | None = None) -> None:
        self.node_name = node_name
        self.limiter = limiter
        self.pinning = pinning  # None: every task and the agent share all CPUs
        self.user = user  # None: tasks run as the agent's own user

    def spawn(self, spec: TaskSpec, *, spool: AttemptSpool, workdir: Path) -> RunningTask:
        """Start the process; OSError when it cannot start (the caller reports exit 127)."""
        gated = self.user is not None and self.limiter.needs_admit
        argv = self.limiter.wrap(spec.task, spec.attempt, spec.mem, spec.command, gated=gated)
        cpus = self.pinning.acquire(spec.key, spec.cpu) if self.pinning else None
        out, err = spool.task_fds()
        as_user = {} if self.user is None else {
            "user": self.user.uid, "group": self.user.gid, "extra_groups": list(self.user.groups)}

        def popen() -> subprocess.Popen:
            return subprocess.Popen(
                argv, stdin=subprocess.PIPE if gated else subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, cwd=workdir, close_fds=True,
                env=task_environment(spec, self.node_name, user=self.user, workdir=workdir), **as_user,
            )

        try:
            process = spawn_on(cpus, popen) if cpus else popen()
            if gated:
                self._admit(spec, process)
        except BaseException:
            if self.pinning:
                self.pinning.release(spec.key)
            raise
        finally:
            os.close(out)
            os.close(err)
        if self.pinning:
            self.pinning.spawned(spec.key, process.pid)
        return RunningTask(
            spec=spec, process=process, spool=spool, pidfd=os.pidfd_open(process.pid), workdir=workdir,
            started_at=time.time(), deadline=time.monotonic() + spec.timeout if spec.timeout else None,
        )


    def _admit(self, spec: TaskSpec, process: subprocess.Popen) -> None:
        """Its shell waits on stdin: move it into its cgroup, then let it go on (EOF)."""
        try:
            self.limiter.admit(spec.task, spec.attempt, process.pid)
        except OSError:
            process.kill()
            process.wait()
            raise
        finally:
            assert process.stdin is not None
            process.stdin.close()


def exit_code_of(returncode: int) -> int:
    """The shell's convention: 128+N for signal N."""
    return 128 - returncode if returncode < 0 else returncode


def process_matches(pid: int, create_time: float | None) -> bool:
    """Is `pid` still the process we started (not a reused pid)?"""
    try:
        process = psutil.Process(pid)
        return create_time is None or abs(process.create_time() - create_time) < 0.01
    except psutil.Error:
        return False


def create_time_of(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None
