"""When placement runs: on request (after a submit commits, when capacity frees, when a node comes
back), again shortly after a pass that had to skip tasks another transaction held, and
periodically as a safety net (the sweeper's pass). One background thread per process coalesces
requests: a burst of submits costs one or two passes, not one each.

Processes that do not start the loop (tests, one-off commands) call `place_pending_tasks` directly.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from tasks.batch import retries
from tasks.placement.reservation import place_pending_tasks

log = logging.getLogger("tasks.placement")

RETRY_SKIPPED_AFTER = 0.1  # seconds: row locks of reports and cancels last milliseconds


class PlacementLoop:
    def __init__(self, *, interval: float | None) -> None:
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="placement-loop", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def request(self) -> None:
        self._wake.set()

    def _until_next_due(self) -> float | None:
        """Sleep until a request, the interval, or the next retry's `not_before`, whichever comes
        first: a retry waits in PENDING and nothing else would wake placement when it comes due."""
        try:
            due = retries.next_due()
        except Exception:
            log.exception("reading the next retry's time failed")
            close_old_connections()
            return self.interval
        if due is None:
            return self.interval
        seconds = max(0.0, (due - timezone.now()).total_seconds()) + 0.01
        return seconds if self.interval is None else min(self.interval, seconds)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(timeout=self._until_next_due())
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    if place_pending_tasks().skipped_locked:
                        self._stop.wait(RETRY_SKIPPED_AFTER)
                        self._wake.set()
                except Exception:
                    log.exception("placement pass failed; retrying on the next request")
                    close_old_connections()
                    self._stop.wait(0.2)
                    self._wake.set()
        finally:
            connections.close_all()  # this thread's own: a stopped loop leaves no session behind


_loop: PlacementLoop | None = None
_lock = threading.Lock()


def start_background(*, interval: float | None = None) -> PlacementLoop:
    """Start this process's placement loop (idempotent)."""
    global _loop
    with _lock:
        if _loop is None:
            _loop = PlacementLoop(interval=interval)
            _loop.start()
        return _loop


def stop_background() -> None:
    global _loop
    with _lock:
        if _loop is not None:
            _loop.stop()
            _loop = None


def request_placement() -> None:
    """Ask for a placement pass after the current transaction commits (no-op without a loop)."""
    if _loop is not None:
        transaction.on_commit(_loop.request)
