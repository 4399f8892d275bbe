"""Reconciliation, pure: from the master's desired assignments and what this agent holds, decide
what to start, what to kill and what to report lost. Level-triggered: the same inputs give the
same answer, however many nudges were lost on the way.

    ASSIGNED here, not held, never run here      -> start it
    RUNNING at the master, not held, never run   -> report it lost (a previous life had it)
    held here but not desired (cancelled, requeued elsewhere, unknown) -> kill it
An attempt this agent has already run is never started again: a requeue makes a new attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Key = tuple[int, int]  # (task, attempt)


@dataclass
class Plan:
    start: list[dict] = field(default_factory=list)
    kill: list[Key] = field(default_factory=list)
    lost: list[Key] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.start or self.kill or self.lost)


def key_of(assignment: Mapping) -> Key:
    return int(assignment["task"]), int(assignment["attempt"])


def reconcile(
    *, assignments: Iterable[Mapping], running: Iterable[Key], finished: Iterable[Key], accepting: bool = True
) -> Plan:
    desired = {key_of(a): a for a in assignments}
    running, finished = set(running), set(finished)
    plan = Plan()
    for key, assignment in sorted(desired.items()):
        if key in running or key in finished:
            continue
        if assignment["status"] == "ASSIGNED" and accepting:
            plan.start.append(dict(assignment))
        elif assignment["status"] == "RUNNING":
            plan.lost.append(key)
    plan.kill = sorted(key for key in running if key not in desired)
    return plan


class GenerationGate:
    """Answers can arrive out of order (HTTP heartbeat vs WebSocket nudge): act on an answer
    only if it is at least as new as the newest one acted on."""

    def __init__(self) -> None:
        self.seen = -1

    def admit(self, generation: int | None) -> bool:
        if generation is None:
            return False
        if generation < self.seen:
            return False
        self.seen = generation
        return True

    def reset(self) -> None:
        self.seen = -1
