"""The agent's lease on its tasks: an agent that has not heard a master answer its heartbeats for
longer than the lease stops its tasks itself, before the masters give up on the node.

The masters requeue a node's tasks once they have had no heartbeat from it for OFFLINE
(`SCHEDULER_OFFLINE_AFTER`); nothing stopped the node's own copies, so a frozen or cut-off agent's
task ran to the end twice (docs/reliability.md, finding 2). The lease is OFFLINE less one heartbeat
interval, counted from the last heartbeat answer the agent received (which the master sent after
recording the heartbeat): when it runs out, the masters are about to requeue, and the agent's copy
must be gone first.

Two enforce it. The agent (`NodeAgent`) kills its tasks when it finds the lease expired (a
partition: the agent runs, its heartbeats fail) and reports them `lost`, not as a failure of the
command. The guardian process (`agent.guardian`) is renewed with every answer and kills every task
group itself when a renewal is late (a frozen agent, SIGSTOP or a stalled machine, cannot act); the
agent, when it runs again, reports those attempts `lost` too (`killed_by_lease`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

SIGKILL_EXIT = 128 + 9  # the shell's convention for "killed by SIGKILL" (agent.spawning.exit_code_of)


def duration_for(*, offline_after: float, heartbeat_interval: float) -> float:
    """OFFLINE less one heartbeat interval (the time an answer may take), at least two intervals."""
    return max(2 * heartbeat_interval, offline_after - heartbeat_interval)


class Lease:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.clock, self.wall = clock, wall
        self.duration: float | None = None  # None until a master said its timers: no lease yet
        self.renewed_at: float | None = None
        self.lapsed_at: float | None = None  # when the lease last ran out (found then or afterwards)
        self._lock = threading.Lock()

    def configure(self, *, offline_after: float | None, heartbeat_interval: float) -> None:
        if offline_after:
            self.duration = duration_for(offline_after=float(offline_after), heartbeat_interval=heartbeat_interval)

    def renew(self) -> None:
        """A master answered a heartbeat. A renewal after the lease ran out records that it did."""
        with self._lock:
            now = self.clock()
            if self.duration is not None and self.renewed_at is not None and now - self.renewed_at > self.duration:
                self.lapsed_at = self.renewed_at + self.duration
            self.renewed_at = now

    def expired(self) -> bool:
        with self._lock:
            if self.duration is None or self.renewed_at is None:
                return False
            if self.clock() - self.renewed_at <= self.duration:
                return False
            self.lapsed_at = self.renewed_at + self.duration
            return True

    def killed_by_lease(self, *, started_at: float, exit_code: int | None) -> bool:
        """Did a lease that ran out (the guardian) end this attempt, started at `started_at` (wall
        clock, as the spawner records it)? Killed by SIGKILL, with no reason of the agent's, after a
        lapse that began while it ran."""
        if exit_code != SIGKILL_EXIT:
            return False
        self.expired()  # a lapse not yet noticed (the agent just woke up) counts
        with self._lock:
            if self.lapsed_at is None:
                return False
            lapsed_wall = self.wall() - (self.clock() - self.lapsed_at)
            return lapsed_wall >= started_at
