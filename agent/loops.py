"""The top-level guard of every agent thread loop (heartbeats, executor, shipper, link).

One pass of a loop that raises is logged with its traceback and the loop goes on: a bad frame or
a file that vanished must not stop reaping or shipping for every other task. A loop that fails
`MAX_FAILURES_IN_A_ROW` passes in a row is broken, not unlucky: the guard calls `on_fatal`, which
takes the whole agent down cleanly with exit code `EXIT_SOFTWARE` (its supervisor restarts it, and
the next life recovers from the state dir). Never a silent half-life: a node whose executor is dead
must not go on heartbeating as if it ran its tasks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("agent.loops")

MAX_FAILURES_IN_A_ROW = 5
EXIT_SOFTWARE = 70  # sysexits.h EX_SOFTWARE: an internal error; the supervisor restarts the agent
EXIT_REFUSED = 2  # the master refuses this agent (join token rotated, node forgotten): retrying cannot help
PAUSE_AFTER_FAILURE = 0.1  # seconds, times the failures in a row: a failing loop does not spin


class LoopGuard:
    """Runs one pass of a named loop at a time; counts the failures in a row."""

    def __init__(self, name: str, *, on_fatal: Callable[[str], None], limit: int = MAX_FAILURES_IN_A_ROW,
                 pause: float = PAUSE_AFTER_FAILURE) -> None:
        self.name, self.on_fatal, self.limit, self.pause = name, on_fatal, limit, pause
        self.failures = 0
        self._rest = threading.Event()  # never set: a pause that cannot be cut short by a stray wake-up

    def run(self, step: Callable[[], object]) -> bool:
        """One pass. False when the loop must end: it failed `limit` times in a row and the agent
        is going down."""
        try:
            step()
        except Exception:
            self.failures += 1
            log.exception("agent loop failed; going on", extra={"loop": self.name, "in_a_row": self.failures})
            if self.failures >= self.limit:
                log.critical("agent loop keeps failing; the agent stops",
                             extra={"loop": self.name, "in_a_row": self.failures})
                self.on_fatal(self.name)
                return False
            self._rest.wait(min(1.0, self.pause * self.failures))
            return True
        self.failures = 0
        return True


def log_fatal(name: str) -> None:
    """The default `on_fatal` of a part used on its own (tests): say so; the loop ends."""
    log.critical("agent loop stopped", extra={"loop": name})
