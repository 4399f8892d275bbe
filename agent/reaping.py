"""Watching the running tasks until they end: one loop for every task, a pidfd per process so an
exit is seen at once, and a tick every TICK seconds while tasks run that cuts new output into
chunks, enforces timeouts (and, through `ResourceWatch`, memory requests in watchdog mode), and
escalates SIGTERM to SIGKILL after the grace period.

When the shell exits, whatever it left in its process group is killed, so a background child
cannot keep the task "running" (Kubernetes does the same when a container's main process
exits). Exit codes follow the shell: 128+N for signal N. The loop runs under `LoopGuard`: one
failing pass is logged and the loop goes on.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import threading
import time
from collections.abc import Callable

from agent.limits import CgroupV2Memory, ResourceWatch, SessionWatchdog
from agent.loops import LoopGuard, log_fatal
from agent.protocol import ExitReason
from agent.spawning import RunningTask, exit_code_of

log = logging.getLogger("agent.reaping")

TICK = 0.01  # seconds between samples of the output files while tasks run (spool.SAMPLE_INTERVAL)


def _safely(callback: Callable, argument: object) -> None:
    """The loop serves every task: one failing callback must not stop it."""
    try:
        callback(argument)
    except Exception:
        log.exception("reaper callback failed")


class Reaper:
    def __init__(
        self,
        *,
        limiter: CgroupV2Memory | SessionWatchdog,
        kill_grace: float,
        on_output: Callable[[RunningTask], None],
        on_exit: Callable[[RunningTask], None],
        on_reaped: Callable[[RunningTask], None] = lambda running: None,
        on_fatal: Callable[[str], None] = log_fatal,
    ) -> None:
        self.limiter = limiter
        self.watch = ResourceWatch(limiter)
        self.kill_grace = kill_grace
        self.on_output, self.on_exit, self.on_reaped = on_output, on_exit, on_reaped
        self.tasks: dict[tuple[int, int], RunningTask] = {}
        self._lock = threading.RLock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._stop = threading.Event()
        self._guard = LoopGuard("executor", on_fatal=on_fatal)
        self._thread = threading.Thread(target=self._loop, name="executor", daemon=True)
        self._thread.start()

    # -- the tasks ---------------------------------------------------------------------------

    def adopt(self, running: RunningTask) -> None:
        """Watch a process `agent.spawning` just started."""
        with self._lock:
            self.tasks[running.key] = running
            self._selector.register(running.pidfd, selectors.EVENT_READ, ("exit", running))
        self._wake()

    def kill(self, task: int, attempt: int, *, reason: str = ExitReason.KILLED) -> bool:
        """SIGTERM the task's whole group now, SIGKILL after the grace period."""
        with self._lock:
            running = self.tasks.get((task, attempt))
            if running is None or running.exited_at is not None:
                return False
            if running.term_sent is None:
                running.kill_reason = str(reason)
                running.term_sent = time.monotonic()
                self._signal(running, signal.SIGTERM)
        self._wake()
        return True

    def running(self) -> list[RunningTask]:
        """The tasks whose process has not exited yet."""
        with self._lock:
            return [running for running in self.tasks.values() if running.exited_at is None]

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

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._guard.run(self._turn):
                return

    def _turn(self) -> None:
        for key, _ in self._selector.select(TICK if self.tasks else 0.5):
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
            running.exit_reason = ExitReason.OOM.value
        self._finish(running)

    def _finish(self, running: RunningTask) -> None:
        # The task stays in `tasks` (exited) until `on_exit` has recorded its end: at every moment
        # the agent holds the attempt either as running or as ended, so a desired state answered
        # meanwhile can never make it look lost.
        try:
            running.spool.close()  # the rest of the output, to its last byte
        except OSError:
            log.exception("cutting the last output failed", extra={"task": running.spec.task})
        _safely(self.on_output, running)
        self.limiter.cleanup(*running.key)
        log.info("task exited", extra={"task": running.spec.task, "attempt": running.spec.attempt,
                                       "exit_code": running.exit_code, "reason": running.exit_reason})
        _safely(self.on_reaped, running)
        _safely(self.on_exit, running)
        with self._lock:
            running.done = True
            self.tasks.pop(running.key, None)

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
                self.kill(*running.key, reason=ExitReason.TIMEOUT)
            if running.term_sent is not None and now - running.term_sent >= self.kill_grace:
                self._signal(running, signal.SIGKILL)
        if tasks and self.watch.due(now):
            for running in self.watch.check(tasks):
                with self._lock:
                    running.kill_reason = ExitReason.OOM.value
                    running.term_sent = running.term_sent or time.monotonic()
                self._signal(running, signal.SIGKILL)
