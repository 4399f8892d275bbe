"""The agent's process parts put together the way `agent.node_agent` does, for tests that run real
processes without a master: a spawner starts, a reaper watches until the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.limits import CpuPinning, SessionWatchdog
from agent.loops import log_fatal
from agent.reaping import Reaper
from agent.spawning import RunningTask, Spawner, TaskSpec
from agent.spool import AttemptSpool


@dataclass
class Runner:
    spawner: Spawner
    reaper: Reaper

    def start(self, spec: TaskSpec, *, spool: AttemptSpool, workdir: Path) -> RunningTask:
        running = self.spawner.spawn(spec, spool=spool, workdir=workdir)
        self.reaper.adopt(running)
        return running

    def stop(self) -> None:
        self.reaper.stop()


def make_runner(on_exit: Callable[[RunningTask], None], *, pinning: CpuPinning | None = None,
                on_fatal: Callable[[str], None] = log_fatal) -> Runner:
    limiter = SessionWatchdog()

    def on_reaped(running: RunningTask) -> None:
        if pinning is not None:
            pinning.release(running.key)

    reaper = Reaper(limiter=limiter, kill_grace=1.0, on_output=lambda running: None, on_exit=on_exit,
                    on_reaped=on_reaped, on_fatal=on_fatal)
    return Runner(Spawner(node_name="n1", limiter=limiter, pinning=pinning), reaper)
