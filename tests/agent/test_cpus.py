"""Exclusive CPUs for whole-core tasks: the plan (pure) and the executor applying it to real
processes (their affinity read back from /proc)."""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path

import pytest

from agent.cpus import CpuPlan, confine_process, spawn_on
from agent.limits import CpuPinning
from agent.spawning import RunningTask, TaskSpec
from agent.spool import AttemptSpool, SpoolBudget
from tests.agent.parts import make_runner


def test_whole_core_tasks_get_cpus_of_their_own_and_one_stays_shared() -> None:
    plan = CpuPlan(range(4))
    assert plan.acquire((1, 1), 2000) == {2, 3}
    assert plan.pool() == {0, 1}
    assert plan.acquire((2, 1), 1000) == {1}
    assert plan.pool() == {0}
    assert plan.acquire((3, 1), 1000) is None, "the last CPU stays in the pool"
    assert plan.cpus_of((3, 1)) == {0}
    assert plan.acquire((1, 1), 2000) == {2, 3}, "asking again changes nothing"


def test_fractions_and_zero_run_in_the_pool_and_release_gives_cpus_back() -> None:
    plan = CpuPlan([0, 1, 2])
    assert plan.acquire((1, 1), 500) is None
    assert plan.acquire((2, 1), 1500) is None
    assert plan.acquire((3, 1), 0) is None
    assert plan.acquire((4, 1), 1000) == {2}
    assert plan.release((4, 1))
    assert not plan.release((4, 1))
    assert plan.pool() == {0, 1, 2}


def test_spawn_on_runs_the_child_there_and_restores_the_thread() -> None:
    before = os.sched_getaffinity(0)
    target = {min(before)}
    seen = spawn_on(target, lambda: os.sched_getaffinity(0))
    assert seen == target
    assert os.sched_getaffinity(0) == before


@pytest.fixture
def restore_affinity():
    """The executor confines its own process (here: pytest) to the pool; put it back after."""
    before = os.sched_getaffinity(0)
    yield before
    confine_process(before)


def _allowed(pid: int) -> set[int]:
    return os.sched_getaffinity(pid)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_executor_pins_a_whole_core_task_and_moves_the_rest_to_the_pool(tmp_path: Path, restore_affinity) -> None:
    cpus = sorted(restore_affinity)
    ended: dict[tuple[int, int], RunningTask] = {}
    done = threading.Event()

    def on_exit(running: RunningTask) -> None:
        ended[running.key] = running
        if len(ended) == 2:
            done.set()

    executor = make_runner(on_exit, pinning=CpuPinning(CpuPlan(cpus)))
    (tmp_path / "work").mkdir()

    def start(task: int, command: str, cpu: int) -> RunningTask:
        spool = AttemptSpool(tmp_path / "s", task, 1, SpoolBudget(1 << 30))
        return executor.start(TaskSpec(task=task, attempt=1, command=command, cpu=cpu), spool=spool,
                              workdir=tmp_path / "work")

    try:
        shared = start(1, "sleep 2", 500)
        assert _allowed(shared.pid) == set(cpus), "alone, a fractional task has every CPU"
        own = start(2, "grep Cpus_allowed_list /proc/self/status; sleep 0.5", 1000)
        mine = {cpus[-1]}
        pool = set(cpus[:-1])
        assert _allowed(own.pid) == mine
        assert _allowed(shared.pid) == pool, "the fractional task left the CPU now taken"
        assert os.sched_getaffinity(0) == pool, "and so did the agent"
        executor.reaper.kill(1, 1)
        assert done.wait(30)
        output = b"".join(base64.b64decode(c["b64"]) for c in ended[(2, 1)].spool.unsent(1 << 40)).decode()
        assert output.split()[-1] == str(cpus[-1]), output
        deadline = time.monotonic() + 5
        while os.sched_getaffinity(0) != set(cpus) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.sched_getaffinity(0) == set(cpus), "the agent has every CPU again once the task ended"
    finally:
        executor.stop()
