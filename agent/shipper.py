"""The log shipper: one thread that sends, while the WebSocket is up, the reports the ledger says
are due (first: a task's start reaches the master before its first output does) and then each
attempt's spooled output, a frame of at most about SEND_BYTES_PER_FRAME at a time and at most
MAX_CHUNKS_IN_FLIGHT chunks unacknowledged per attempt. Woken on new output, on an exit and on
every acknowledgement; it also looks every POLL seconds. A failing pass is logged and the loop
goes on (`LoopGuard`). A spool removed meanwhile (its attempt forgotten) sends nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from agent import protocol
from agent.ledger import AttemptLedger
from agent.loops import LoopGuard, log_fatal
from agent.protocol import Report
from agent.reconcile import Key
from agent.spool import AttemptSpool

SEND_BYTES_PER_FRAME = 256 * 1024
MAX_CHUNKS_IN_FLIGHT = 256
POLL = 0.5


class Sender(Protocol):
    connected: threading.Event

    def send(self, frame: dict) -> bool: ...


class LogShipper:
    def __init__(self, *, ledger: AttemptLedger, link: Sender, running_reports: Callable[[], Mapping[Key, Report]],
                 on_fatal: Callable[[str], None] = log_fatal) -> None:
        self.ledger, self.link, self.running_reports = ledger, link, running_reports
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._guard = LoopGuard("shipper", on_fatal=on_fatal)
        self._thread = threading.Thread(target=self._loop, name="shipper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(POLL)
            self._wake.clear()
            if not self._guard.run(self.ship_once):
                return

    def ship_once(self) -> None:
        if not self.link.connected.is_set():
            return
        reports = self.ledger.reports_due(running=self.running_reports(), for_heartbeat=False)
        if reports and not self.link.send(protocol.report_frame(reports)):
            self.ledger.reports_not_sent()
            return
        for spool in self.ledger.spools_to_ship():
            if not self._ship(spool):
                return

    def _ship(self, spool: AttemptSpool) -> bool:
        """Send what `spool` has not sent yet; False when the link is down."""
        while spool.has_unsent and spool.in_flight() < MAX_CHUNKS_IN_FLIGHT:
            chunks = spool.unsent(SEND_BYTES_PER_FRAME)
            if not chunks:
                break
            frame = protocol.logs_frame(protocol.chunk(task=spool.task, attempt=spool.attempt, **chunk)
                                        for chunk in chunks)
            if not self.link.send(frame):
                return False
            spool.mark_sent(chunks[-1]["seq"])
        return True
