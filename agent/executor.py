"""Runs tasks: `/bin/sh -c COMMAND` in its own session and process group, stdout and stderr
straight into the attempt's spool files (so a process never waits on the agent: it writes at file
speed), and one loop for every task: a pidfd per process so an exit is seen at once, and a tick
every TICK seconds while tasks run that cuts new output into chunks, enforces timeouts and
memory limits, and escalates SIGTERM to SIGKILL after the grace period.

When the shell exits, whatever it left in its process group is killed, so a background child
cannot keep the task "running" (Kubernetes does the same when a container's main process
exits). Exit codes follow the shell: 128+N for signal N.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from agent import procfs
from agent.cpus import CpuPlan, confine_process, confine_sessions, spawn_on
from agent.limits import WATCHDOG_INTERVAL, CgroupV2Memory, SessionWatchdog
from agent.spool import AttemptSpool

log = logging.getLogger("agent.executor")

PASS_THROUGH_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SHELL", "TERM")
TICK = 0.01  # seconds between samples of the output files while tasks run (spool.SAMPLE_INTERVAL)


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
    exit_reason: str | None = None  # timeout | oom | killed
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


def task_environment(spec: TaskSpec, node_name: str) -> dict[str, str]:
    """The agent's harmless basics, the task's env, and the SCHEDULER_ variables. Nothing else
    of the agent's environment (its join token above all) reaches the task."""
    env = {key: os.environ[key] for key in PASS_THROUGH_ENV if key in os.environ}
    env.update({key: value for key, value in os.environ.items() if key.startswith("LC_")})
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


def _safely(callback: Callable, argument: object) -> None:
    """The loop serves every task: one failing callback must not stop it."""
    try:
        callback(argument)
    except Exception:
        log.exception("executor callback failed")


def exit_code_of(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class Executor:
    def __init__(
        self,
        *,
        node_name: str,
        limiter: CgroupV2Memory | SessionWatchdog,
        kill_grace: float,
        on_output: Callable[[RunningTask], None],
        on_exit: Callable[[RunningTask], None],
        on_spawn: Callable[[int], None] = lambda pgid: None,
        on_reaped: Callable[[int], None] = lambda pgid: None,
        cpu_plan: CpuPlan | None = None,
    ) -> None:
        self.node_name = node_name
        self.cpu_plan = cpu_plan  # None: every task and the agent share all CPUs
        self.limiter = limiter
        self.kill_grace = kill_grace
        self.on_output, self.on_exit = on_output, on_exit
        self.on_spawn, self.on_reaped = on_spawn, on_reaped
        self.tasks: dict[tuple[int, int], RunningTask] = {}
        self._lock = threading.RLock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._stop = threading.Event()
        self._last_watch = 0.0
        self._cpu_seconds: dict[tuple[int, int], float] = {}
        self.cpu_used = 0.0  # CPU seconds of tasks since the last `take_cpu_used` (for carved nodes)
        self.rss_bytes = 0
        self._thread = threading.Thread(target=self._loop, name="executor", daemon=True)
        self._thread.start()

    # -- starting and stopping tasks -------------------------------------------------------

    def start(self, spec: TaskSpec, *, spool: AttemptSpool, workdir: Path) -> RunningTask:
        argv = self.limiter.wrap(spec.task, spec.attempt, spec.mem, spec.command)
        key = (spec.task, spec.attempt)
        cpus, exclusive = None, False
        if self.cpu_plan is not None:
            with self._lock:
                exclusive = self.cpu_plan.acquire(key, spec.cpu) is not None
                cpus = self.cpu_plan.cpus_of(key)
        out, err = spool.task_fds()

        def spawn() -> subprocess.Popen:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                cwd=workdir,
                env=task_environment(spec, self.node_name),
                close_fds=True,
            )

        try:
            process = spawn_on(cpus, spawn) if cpus else spawn()
        except BaseException:
            if exclusive:
                self._release_cpus(key)
            raise
        finally:
            os.close(out)
            os.close(err)
        if exclusive:
            log.info("task on CPUs of its own", extra={"task": spec.task, "cpus": sorted(cpus or ())})
            self._confine_pool()
        elif self.cpu_plan is not None:
            confine_process(self.cpu_plan.pool())  # the pool may have grown while this thread spawned
        self.on_spawn(process.pid)
        running = RunningTask(
            spec=spec, process=process, spool=spool, pidfd=os.pidfd_open(process.pid),
            workdir=workdir, started_at=time.time(),
            deadline=time.monotonic() + spec.timeout if spec.timeout else None,
        )
        with self._lock:
            self.tasks[running.key] = running
            self._selector.register(running.pidfd, selectors.EVENT_READ, ("exit", running))
        self._wake()
        return running

    def kill(self, task: int, attempt: int, *, reason: str = "killed") -> bool:
        """SIGTERM the task's whole group now, SIGKILL after the grace period."""
        with self._lock:
            running = self.tasks.get((task, attempt))
            if running is None or running.exited_at is not None:
                return False
            if running.term_sent is None:
                running.kill_reason = reason
                running.term_sent = time.monotonic()
                self._signal(running, signal.SIGTERM)
        self._wake()
        return True

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        self._thread.join(timeout=5)

    def pgid_alive(self, pid: int) -> bool:
        try:
            os.killpg(pid, 0)
            return True
        except OSError:
            return False

    # -- the loop ---------------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _signal(self, running: RunningTask, sig: int) -> None:
        try:
            os.killpg(running.pid, sig)
        except ProcessLookupError:
            pass

    def _next_timeout(self) -> float:
        return TICK if self.tasks else 0.5

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(self._next_timeout()):
                kind, payload = key.data
                if kind == "wake":
                    try:
                        while os.read(self._wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                elif kind == "exit":
                    self._exited(payload)
            self._tick()

    def _exited(self, running: RunningTask) -> None:
        with self._lock:
            self._selector.unregister(running.pidfd)
            os.close(running.pidfd)
        returncode = running.process.wait()
        running.exited_at = time.monotonic()
        running.exit_code = exit_code_of(returncode)
        # Whatever the shell left behind in its group goes with it.
        self._signal(running, signal.SIGKILL)
        if running.kill_reason:
            running.exit_reason = running.kill_reason
        elif self.limiter.oom_killed(*running.key):
            running.exit_reason = "oom"
        self._finish(running)

    def _finish(self, running: RunningTask) -> None:
        # The task stays in `tasks` (exited) until `on_exit` has recorded its end: at every moment
        # the agent holds the attempt either as running or as ended, so a desired state answered
        # meanwhile can never make it look lost.
        try:
            running.spool.close()  # the rest of the output, to its last byte
        except OSError:
            log.exception("cutting the last output failed", extra={"task": running.spec.task})
        self.on_output(running)
        self.limiter.cleanup(*running.key)
        log.info("task exited", extra={"task": running.spec.task, "attempt": running.spec.attempt,
                                       "exit_code": running.exit_code, "reason": running.exit_reason})
        _safely(self.on_reaped, running.pid)
        _safely(self.on_exit, running)
        with self._lock:
            running.done = True
            self.tasks.pop(running.key, None)
        self._release_cpus(running.key)

    # -- CPUs (with --exclusive-cpus) ---------------------------------------------------------

    def _release_cpus(self, key: tuple[int, int]) -> None:
        if self.cpu_plan is None:
            return
        with self._lock:
            released = self.cpu_plan.release(key)
        if released:
            self._confine_pool()

    def _confine_pool(self) -> None:
        """The pool changed: the agent's threads and the tasks without CPUs of their own move onto it."""
        assert self.cpu_plan is not None
        with self._lock:
            pool = self.cpu_plan.pool()
            shared = {r.pid for r in self.tasks.values() if r.key not in self.cpu_plan.exclusive and not r.done}
        confine_process(pool)
        confine_sessions(shared, pool)  # a task's session id is its shell's pid

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            tasks = list(self.tasks.values())
        for running in tasks:
            try:
                if running.spool.cut(now=now):
                    self.on_output(running)
            except OSError:
                log.exception("cutting output failed", extra={"task": running.spec.task})
            if running.deadline is not None and now >= running.deadline and running.term_sent is None:
                self.kill(*running.key, reason="timeout")
            if running.term_sent is not None and now - running.term_sent >= self.kill_grace:
                self._signal(running, signal.SIGKILL)
        if tasks and now - self._last_watch >= WATCHDOG_INTERVAL:
            self._last_watch = now
            self._watch(tasks)

    def _watch(self, tasks: list[RunningTask]) -> None:
        """Memory limits (watchdog mode) and the CPU/memory figures of a carved node."""
        figures = procfs.scan_sessions({running.pid for running in tasks})
        rss_total = 0
        for running in tasks:
            figure = figures.get(running.pid)
            if figure is None:
                continue
            rss_total += figure.rss_bytes
            previous = self._cpu_seconds.get(running.key, 0.0)
            self.cpu_used += max(0.0, figure.cpu_seconds - previous)
            self._cpu_seconds[running.key] = figure.cpu_seconds
            if running.exited_at is None and running.kill_reason != "oom" and self.limiter.over_limit(
                figure.rss_bytes, running.spec.mem
            ):
                log.warning("task over its memory limit",
                            extra={"task": running.spec.task, "rss": figure.rss_bytes, "limit_mib": running.spec.mem})
                with self._lock:
                    running.kill_reason = "oom"
                    running.term_sent = running.term_sent or time.monotonic()
                self._signal(running, signal.SIGKILL)
        self.rss_bytes = rss_total
        for key in [key for key in self._cpu_seconds if key not in self.tasks]:
            del self._cpu_seconds[key]

    def take_cpu_used(self) -> float:
        used, self.cpu_used = self.cpu_used, 0.0
        return used


def process_matches(pid: int, create_time: float | None) -> bool:
    """Is `pid` still the process we started (not a reused pid)?"""
    try:
        process = psutil.Process(pid)
        return create_time is None or abs(process.create_time() - create_time) < 0.01
    except psutil.Error:
        return False
