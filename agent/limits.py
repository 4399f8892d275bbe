"""What a task may use, enforced: its memory (the kernel's cgroup limit, or a watchdog), its CPUs
(`CpuPinning`, with --exclusive-cpus) and the metering of what the node's tasks use (`ResourceWatch`,
for a node's usage figures and the memory watchdog).

Memory limits.

Where the agent may write cgroup v2 (`memory` enabled in a writable cgroup's subtree_control, or
SCHEDULER_CGROUP_ROOT pointing at such a delegated cgroup), each task gets its own cgroup with
`memory.max` = its request and no swap; the kernel kills it past the limit and `memory.events`
says so. The task's shell moves itself into the cgroup before it runs the command, so no child
can escape by being forked first.

Elsewhere (this includes cgroup v1 hosts), a watchdog sums the resident memory of the task's
whole session every WATCHDOG_INTERVAL and kills the session when it exceeds the request (YARN's
container monitor works the same way). We chose this over an address-space rlimit: RLIMIT_AS
counts reserved, not used, memory, so it breaks ordinary programs (glibc reserves 64 MiB arenas
per thread, Go and the JVM reserve gigabytes up front) while a short spike can still beat a
sampling watchdog; the request is enforced on what the process really uses.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent import procfs
from agent.cpus import CpuPlan, confine_process, confine_sessions

if TYPE_CHECKING:
    from agent.spawning import RunningTask

log = logging.getLogger("agent.limits")

WATCHDOG_INTERVAL = 0.1
MOVE_AND_EXEC = 'echo $$ > "$0/cgroup.procs" && exec /bin/sh -c "$1"'
# A task running as another user may not move itself (cgroup.procs is root's): its shell waits on
# stdin until the agent has moved it (`admit`), then runs the command with stdin from /dev/null.
WAIT_AND_EXEC = 'read _ignored; exec /bin/sh -c "$0" </dev/null'


def _cgroup_v2_root() -> Path | None:
    explicit = os.environ.get("SCHEDULER_CGROUP_ROOT")
    candidates = [Path(explicit)] if explicit else []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                candidates.append(Path("/sys/fs/cgroup") / line[3:].lstrip("/"))
    except OSError:
        pass
    for root in candidates:
        try:
            controllers = (root / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if "memory" in controllers and os.access(root, os.W_OK):
            return root
    return None


class CgroupV2Memory:
    kind = "cgroup-v2"

    def __init__(self, root: Path) -> None:
        self.root = root / "mini-scheduler"
        self.root.mkdir(exist_ok=True)

    def path(self, task: int, attempt: int) -> Path:
        return self.root / f"task-{task}-{attempt}"

    def wrap(self, task: int, attempt: int, mem_mib: int, command: str, *, gated: bool = False) -> list[str]:
        """The argv that runs `command` in the task's cgroup; `gated`: the shell waits for `admit`."""
        group = self.path(task, attempt)
        group.mkdir(exist_ok=True)
        (group / "memory.max").write_text(str(mem_mib * 1024 * 1024))
        try:
            (group / "memory.swap.max").write_text("0")
        except OSError:
            pass  # no swap accounting on this kernel
        if gated:
            return ["/bin/sh", "-c", WAIT_AND_EXEC, command]
        return ["/bin/sh", "-c", MOVE_AND_EXEC, str(group), command]

    needs_admit = True

    def admit(self, task: int, attempt: int, pid: int) -> None:
        """Move a gated task's shell into its cgroup (before it runs anything)."""
        (self.path(task, attempt) / "cgroup.procs").write_text(str(pid))

    def oom_killed(self, task: int, attempt: int) -> bool:
        try:
            events = (self.path(task, attempt) / "memory.events").read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in events.splitlines() if line.strip())
        return int(counts.get("oom_kill", 0)) > 0

    def over_limit(self, rss_bytes: int, mem_mib: int) -> bool:
        return False  # the kernel enforces it

    def cleanup(self, task: int, attempt: int) -> None:
        try:
            self.path(task, attempt).rmdir()
        except OSError:
            pass


class SessionWatchdog:
    kind = "rss-watchdog"

    needs_admit = False

    def wrap(self, task: int, attempt: int, mem_mib: int, command: str, *, gated: bool = False) -> list[str]:
        return ["/bin/sh", "-c", command]

    def admit(self, task: int, attempt: int, pid: int) -> None:
        pass

    def oom_killed(self, task: int, attempt: int) -> bool:
        return False  # the executor knows when it killed for memory

    def over_limit(self, rss_bytes: int, mem_mib: int) -> bool:
        return rss_bytes > mem_mib * 1024 * 1024

    def cleanup(self, task: int, attempt: int) -> None:
        pass


def memory_limiter() -> CgroupV2Memory | SessionWatchdog:
    root = _cgroup_v2_root()
    if root is not None:
        try:
            return CgroupV2Memory(root)
        except OSError:
            pass
    return SessionWatchdog()


class CpuPinning:
    """`CpuPlan` applied (agent/cpus.py): a whole-core task starts on CPUs of its own; when the pool
    changes, the agent's threads and the pool's tasks move onto it."""

    def __init__(self, plan: CpuPlan) -> None:
        self.plan = plan
        self._lock = threading.Lock()
        self._sessions: dict[tuple[int, int], int] = {}  # key -> the task's session id (its shell's pid)

    def acquire(self, key: tuple[int, int], millicores: int) -> frozenset[int]:
        """The CPUs to start the task on: its own, or the pool."""
        with self._lock:
            self.plan.acquire(key, millicores)
            return self.plan.cpus_of(key)

    def spawned(self, key: tuple[int, int], pid: int) -> None:
        with self._lock:
            self._sessions[key] = pid
            exclusive = self.plan.exclusive.get(key)
            pool = self.plan.pool()
        if exclusive:
            log.info("task on CPUs of its own", extra={"task": key[0], "cpus": sorted(exclusive)})
            self._confine_pool()
        else:
            confine_process(pool)  # the pool may have grown while this thread spawned

    def release(self, key: tuple[int, int]) -> None:
        with self._lock:
            self._sessions.pop(key, None)
            released = self.plan.release(key)
        if released:
            self._confine_pool()

    def _confine_pool(self) -> None:
        with self._lock:
            pool = self.plan.pool()
            shared = {pid for key, pid in self._sessions.items() if key not in self.plan.exclusive}
        confine_process(pool)
        confine_sessions(shared, pool)


class ResourceWatch:
    """Every WATCHDOG_INTERVAL while tasks run, one pass over /proc for all of them: which tasks are
    over their memory request (watchdog mode), and the CPU seconds and resident memory of the node's
    tasks (a carved node's usage figures)."""

    def __init__(self, limiter: CgroupV2Memory | SessionWatchdog) -> None:
        self.limiter = limiter
        self.cpu_used = 0.0  # CPU seconds of tasks since the last `take_cpu_used`
        self.rss_bytes = 0
        self._cpu_seconds: dict[tuple[int, int], float] = {}
        self._last = 0.0

    def due(self, now: float) -> bool:
        if now - self._last < WATCHDOG_INTERVAL:
            return False
        self._last = now
        return True

    def check(self, tasks: Sequence[RunningTask]) -> list[RunningTask]:
        """Meter `tasks`; return those to kill for memory (not yet ended, not already killed for it)."""
        figures = procfs.scan_sessions({running.pid for running in tasks})
        over, rss_total = [], 0
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
                over.append(running)
        self.rss_bytes = rss_total
        held = {running.key for running in tasks}
        for key in [key for key in self._cpu_seconds if key not in held]:
            del self._cpu_seconds[key]
        return over

    def take_cpu_used(self) -> float:
        used, self.cpu_used = self.cpu_used, 0.0
        return used
