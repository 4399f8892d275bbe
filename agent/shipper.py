"""The log shipper: one thread that sends, while the WebSocket is up, the reports the ledger says
are due (first: a task's start reaches the master before its first output does) and then each
attempt's spooled output: round robin, one frame per attempt per round (at most
protocol.MAX_FRAME_BYTES encoded), and at most MAX_CHUNKS_IN_FLIGHT chunks and MAX_BYTES_IN_FLIGHT
bytes unacknowledged per attempt, so one task's flood never holds back another task's output
(docs/logs.md). Woken on new output, on an exit and on
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

MAX_CHUNKS_IN_FLIGHT = 256
MAX_BYTES_IN_FLIGHT = 1024 * 1024
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
        spools = self.ledger.spools_to_ship()
        while spools:
            sent = []
            for spool in spools:
                shipped = self._ship_one(spool)
                if shipped is None:
                    return
                if shipped:
                    sent.append(spool)
            spools = sent

    def _ship_one(self, spool: AttemptSpool) -> bool | None:
        """Send one frame of what `spool` has not sent yet: whether one went, None when the link is down."""
        if not (spool.has_unsent and spool.in_flight() < MAX_CHUNKS_IN_FLIGHT
                and spool.in_flight_bytes() < MAX_BYTES_IN_FLIGHT):
            return False
        chunks = spool.unsent()  # base64 already, sized by their encoded length
        if not chunks:
            return False
        frame = protocol.logs_frame({"task": spool.task, "attempt": spool.attempt, **chunk} for chunk in chunks)
        if not self.link.send(frame):
            return None
        spool.mark_sent(chunks[-1]["seq"])
        return True
