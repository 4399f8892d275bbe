"""Faults at random times, from a seed: the schedule is drawn before the run (so the same seed
replays the same faults at the same offsets), and the injector carries each out in a thread of its
own (faults overlap), healing it after its duration: restart what was killed, SIGCONT what was
frozen, bring the link back up.

Kinds: kill -9 of a master / sweeper / agent and its restart; SIGSTOP of an agent for longer than
OFFLINE; a partition of an agent from the masters; a Redis restart; a PostgreSQL restart (fast or
immediate, i.e. a crash); a burst of 2,000 submits.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = ("master-kill", "sweeper-kill", "agent-kill", "agent-freeze", "agent-partition", "redis-restart",
         "postgres-restart", "burst")
WEIGHTS = {"master-kill": 3, "sweeper-kill": 2, "agent-kill": 4, "agent-freeze": 3, "agent-partition": 3,
           "redis-restart": 1.5, "postgres-restart": 1.5, "burst": 0.5}
WARMUP = 8.0  # seconds of plain workload before the first fault


@dataclass
class Fault:
    at: float  # seconds after the run's start
    kind: str
    pick: float  # [0, 1): which target of the kind's role
    duration: float  # down / frozen / partitioned for this long
    mode: str = ""  # postgres: fast | immediate
    # Filled in when it runs:
    target: str = ""
    start: float = 0.0  # unix time the fault took effect (kill sent, SIGSTOP sent, link down)
    end: float = 0.0  # unix time it was healed (process answering again, SIGCONT, link up)
    skipped: str = ""
    detail: str = ""

    def summary(self) -> str:
        what = f"{self.kind} {self.target}".strip()
        return f"t+{self.at:6.1f}s {what} for {self.duration:.1f}s{' ' + self.mode if self.mode else ''}" + (
            f" (skipped: {self.skipped})" if self.skipped else "")


def schedule(seed: int, *, minutes: float, intensity: float, offline_after: float,
             kinds: tuple[str, ...] = KINDS) -> list[Fault]:
    """The run's faults: every kind at least once (a seeded order), then weighted draws."""
    rng = random.Random(f"{seed}-faults")
    horizon = minutes * 60
    mean_gap = 15.0 / max(intensity, 0.01)
    faults: list[Fault] = []
    at = WARMUP
    first = list(kinds)
    rng.shuffle(first)
    bursts = 0
    while True:
        at += rng.expovariate(1 / mean_gap)
        if at >= horizon - 5:
            break
        kind = first.pop() if first else rng.choices(list(kinds), weights=[WEIGHTS[k] for k in kinds])[0]
        if kind == "burst":
            if bursts >= max(1, int(minutes // 10)):
                kind = "agent-kill"
            else:
                bursts += 1
        if kind in ("agent-freeze", "agent-partition"):
            duration = offline_after + rng.uniform(1.0, 6.0)  # longer than OFFLINE: the node is lost
        elif kind == "agent-kill":
            duration = rng.uniform(0.2, 2 * offline_after)  # restarted before or after OFFLINE
        elif kind in ("master-kill", "sweeper-kill"):
            duration = rng.uniform(0.2, 4.0)
        elif kind in ("redis-restart", "postgres-restart"):
            duration = rng.uniform(0.2, 3.0)
        else:
            duration = 0.0
        mode = rng.choice(["fast", "immediate"]) if kind == "postgres-restart" else ""
        faults.append(Fault(at=round(at, 2), kind=kind, pick=rng.random(), duration=round(duration, 2), mode=mode))
    return faults


@dataclass
class Targets:
    """What the injector acts on: the cluster's names by role and the actions it needs."""

    masters: list[str]
    sweepers: list[str]
    agents: list[str]  # process names (agent-a1 ...)
    kill: Callable[[str], None]
    start: Callable[[str], object]
    freeze: Callable[[str], None]
    thaw: Callable[[str], None]
    partition: Callable[[str], None] | None  # None: no namespaces
    heal: Callable[[str], None] | None
    restart_redis: Callable[[float], None]
    restart_postgres: Callable[[str, float], None]
    burst: Callable[[], str]
    busy: set[str] = field(default_factory=set)


class Injector:
    def __init__(self, faults: list[Fault], targets: Targets, *, log: Callable[[str], None] = print) -> None:
        self.faults = faults
        self.targets = targets
        self.log = log
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def _claim(self, fault: Fault) -> str | None:
        """Pick a free target of the fault's role and mark it busy (None: none free)."""
        t = self.targets
        role = {"master-kill": t.masters, "sweeper-kill": t.sweepers, "agent-kill": t.agents,
                "agent-freeze": t.agents, "agent-partition": t.agents, "redis-restart": ["redis"],
                "postgres-restart": ["postgres"], "burst": ["burst"]}[fault.kind]
        with self._lock:
            free = [name for name in role if name not in t.busy]
            if fault.kind == "master-kill" and len(free) < len(role):
                return None  # one master always answers: a kill while the other is down would be an outage
            if not free:
                return None
            choice = free[int(fault.pick * len(free))]
            t.busy.add(choice)
            return choice

    def _release(self, name: str) -> None:
        with self._lock:
            self.targets.busy.discard(name)

    def _execute(self, fault: Fault) -> None:
        t = self.targets
        target = self._claim(fault)
        if target is None:
            fault.skipped = "no free target"
            self.log(f"fault {fault.summary()}")
            return
        fault.target = target
        try:
            if fault.kind in ("master-kill", "sweeper-kill", "agent-kill"):
                fault.start = time.time()
                t.kill(target)
                self.log(f"fault {fault.summary()}")
                time.sleep(fault.duration)
                t.start(target)
            elif fault.kind == "agent-freeze":
                fault.start = time.time()
                t.freeze(target)
                self.log(f"fault {fault.summary()}")
                time.sleep(fault.duration)
                t.thaw(target)
            elif fault.kind == "agent-partition":
                if t.partition is None or t.heal is None:
                    fault.skipped = "no network namespaces"
                    self.log(f"fault {fault.summary()}")
                    return
                fault.start = time.time()
                t.partition(target)
                self.log(f"fault {fault.summary()}")
                time.sleep(fault.duration)
                t.heal(target)
            elif fault.kind == "redis-restart":
                fault.start = time.time()
                self.log(f"fault {fault.summary()}")
                t.restart_redis(fault.duration)
            elif fault.kind == "postgres-restart":
                fault.start = time.time()
                self.log(f"fault {fault.summary()}")
                t.restart_postgres(fault.mode, fault.duration)
            elif fault.kind == "burst":
                fault.start = time.time()
                self.log(f"fault {fault.summary()}")
                fault.detail = t.burst()
            fault.end = time.time()
        except Exception as error:  # a fault that failed to heal is itself a finding of the harness
            fault.end = time.time()
            fault.detail = f"error: {error}"
            self.errors.append(f"{fault.summary()}: {traceback.format_exc(limit=3)}")
        finally:
            self._release(target)

    def _run(self, started: float) -> None:
        for fault in self.faults:
            if self._stop.wait(max(0.0, started + fault.at - time.monotonic())):
                return
            thread = threading.Thread(target=self._execute, args=(fault,), name=f"fault-{fault.kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def start(self, started: float) -> None:
        self._thread = threading.Thread(target=self._run, args=(started,), name="injector", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait until every fault has run and healed."""
        if self._thread:
            self._thread.join()
        for thread in self._threads:
            thread.join()

    def stop(self) -> None:
        self._stop.set()
        self.join()
