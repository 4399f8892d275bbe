"""Exclusive CPUs for whole-core tasks (opt-in: `--exclusive-cpus`).

A task that asks for whole cores (cpu 1, 2, ...) gets that many CPUs of its own while enough are
free; every other task, and the agent itself, share the rest (the pool). This is Kubernetes'
static CPU manager policy and Nomad's `resources.cores`: a task on its own cores is never
preempted by the agent cutting and shipping its output, nor by its neighbours. At least
`SHARED_MIN` CPUs always stay in the pool; a task that cannot have cores of its own runs in the
pool, as it would without this option. Off by default: several agents on one machine (the demo)
would each hand out the same CPUs.

`CpuPlan` is the bookkeeping (plain, unit-tested); `spawn_on` and the `confine_*` functions apply it. A process
is started on its CPUs by forking from a thread whose own affinity is set to them for the
duration (affinity is per thread and inherited at fork), so not one instruction of the task runs
elsewhere. When the pool changes, the agent's threads and the pool's tasks are moved onto it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from agent import procfs

log = logging.getLogger("agent.cpus")

SHARED_MIN = 1
T = TypeVar("T")
_spawn_lock = threading.Lock()


class CpuPlan:
    def __init__(self, cpus: Iterable[int]) -> None:
        self.cpus = sorted(set(cpus))
        self.exclusive: dict[tuple[int, int], frozenset[int]] = {}

    def pool(self) -> frozenset[int]:
        taken = set().union(*self.exclusive.values()) if self.exclusive else set()
        return frozenset(c for c in self.cpus if c not in taken)

    def acquire(self, key: tuple[int, int], millicores: int) -> frozenset[int] | None:
        """CPUs of the task's own, or None: it runs in the pool (not whole cores, or too few free)."""
        if key in self.exclusive:
            return self.exclusive[key]
        if millicores <= 0 or millicores % 1000:
            return None
        wanted = millicores // 1000
        free = sorted(self.pool())
        if len(free) - wanted < SHARED_MIN:
            return None
        # the highest-numbered first: CPU 0 is where a machine's housekeeping tends to land
        mine = frozenset(free[-wanted:])
        self.exclusive[key] = mine
        return mine

    def release(self, key: tuple[int, int]) -> bool:
        return self.exclusive.pop(key, None) is not None

    def cpus_of(self, key: tuple[int, int]) -> frozenset[int]:
        return self.exclusive.get(key) or self.pool()


def available_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def spawn_on(cpus: Iterable[int], spawn: Callable[[], T]) -> T:
    """Run `spawn` (a fork/exec) from this thread with its affinity set to `cpus`, then restore it."""
    with _spawn_lock:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, set(cpus))
        try:
            return spawn()
        finally:
            os.sched_setaffinity(0, before)


def confine_process(cpus: Iterable[int], pid: int | None = None) -> None:
    """Move every thread of a process (this one by default) onto `cpus`."""
    try:
        tids = os.listdir(f"/proc/{os.getpid() if pid is None else pid}/task")
    except OSError:
        return  # it ended
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), set(cpus))
        except OSError:
            pass  # it ended meanwhile


def confine_sessions(sessions: set[int], cpus: Iterable[int]) -> None:
    """Move every process of these tasks' sessions (children and grandchildren too) onto `cpus`."""
    for figure in procfs.scan_sessions(sessions).values():
        for pid in figure.pids:
            confine_process(cpus, pid)
