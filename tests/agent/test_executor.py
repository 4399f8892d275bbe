"""Spawning and reaping on their own: real `/bin/sh` processes, output into real spool files, no master."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import psutil

from agent.spawning import RunningTask, TaskSpec
from agent.spool import AttemptSpool, SpoolBudget
from tests.agent.parts import Runner, make_runner


def _any_live_member(pgid: int) -> bool:
    """A process of the group that is not a zombie."""
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def make_executor(on_exit) -> Runner:
    return make_runner(on_exit)


def test_an_exited_task_is_held_until_its_end_is_recorded(tmp_path: Path) -> None:
    """Between the process's exit and `on_exit`, the attempt must still be held, or a desired
    state answered in that moment would look like the agent had lost it (it once was requeued
    as AgentLost right after succeeding)."""
    seen: dict[str, object] = {}
    done = threading.Event()
    executor: Runner

    def on_exit(running: RunningTask) -> None:
        seen["held"] = running.key in executor.reaper.tasks
        seen["exit_code"] = running.exit_code
        done.set()

    executor = make_executor(on_exit)
    try:
        spool = AttemptSpool(tmp_path / "spool", 1, 1, SpoolBudget(1 << 30))
        (tmp_path / "work").mkdir()
        executor.start(TaskSpec(task=1, attempt=1, command="seq 100000; exit 3"), spool=spool,
                       workdir=tmp_path / "work")
        assert done.wait(30)
        assert seen == {"held": True, "exit_code": 3}
        assert spool.closed
        assert b"".join(base64.b64decode(chunk["b64"]) for chunk in spool.unsent(1 << 40)).count(b"\n") == 100000
        for _ in range(100):
            if (1, 1) not in executor.reaper.tasks:
                break
            threading.Event().wait(0.01)
        assert (1, 1) not in executor.reaper.tasks
    finally:
        executor.stop()


def test_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    ended: list[RunningTask] = []
    done = threading.Event()
    executor = make_executor(lambda running: (ended.append(running), done.set()))
    try:
        spool = AttemptSpool(tmp_path / "spool", 2, 1, SpoolBudget(1 << 30))
        (tmp_path / "work").mkdir()
        executor.start(TaskSpec(task=2, attempt=1, command="sleep 60 & sleep 60", timeout=0.3), spool=spool,
                       workdir=tmp_path / "work")
        assert done.wait(30)
        assert ended[0].exit_reason == "timeout"
        assert ended[0].exit_code == 128 + 15
        # the background `sleep` went with the shell (killed; reaped by init a moment later)
        gone = threading.Event()
        for _ in range(500):
            if not executor.reaper.pgid_alive(ended[0].pid) or not _any_live_member(ended[0].pid):
                gone.set()
                break
            gone.wait(0.01)
        assert gone.is_set()
    finally:
        executor.stop()


def test_an_unexpected_error_in_the_loop_is_survived_and_the_task_still_ends(tmp_path: Path, monkeypatch) -> None:
    """One failing pass of the executor's loop (issue 14, defect 4) must not stop reaping: before
    the guard, the thread died and the task never ended while heartbeats went on."""
    done = threading.Event()
    executor = make_executor(lambda running: done.set())
    real_tick, failures, failed_twice = executor.reaper._tick, [], threading.Event()

    def flaky_tick() -> None:
        if len(failures) < 2:
            failures.append(1)
            if len(failures) == 2:
                failed_twice.set()
            raise RuntimeError("injected")
        real_tick()

    monkeypatch.setattr(executor.reaper, "_tick", flaky_tick)
    try:
        executor.reaper._wake()
        assert failed_twice.wait(30)
        spool = AttemptSpool(tmp_path / "spool", 3, 1, SpoolBudget(1 << 30))
        (tmp_path / "work").mkdir()
        executor.start(TaskSpec(task=3, attempt=1, command="echo hi"), spool=spool, workdir=tmp_path / "work")
        assert done.wait(30)
    finally:
        executor.stop()


def test_a_loop_that_keeps_failing_stops_the_agent(tmp_path: Path, monkeypatch) -> None:
    fatal: list[str] = []
    stopped = threading.Event()
    executor = make_runner(lambda running: None, on_fatal=lambda loop: (fatal.append(loop), stopped.set()))

    def broken_tick() -> None:
        raise RuntimeError("always")

    monkeypatch.setattr(executor.reaper, "_tick", broken_tick)
    try:
        executor.reaper._wake()
        assert stopped.wait(30)
        assert fatal == ["executor"]
    finally:
        executor.stop()
