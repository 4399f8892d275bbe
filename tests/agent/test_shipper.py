"""The log shipper on its own, against a fake link: reports go before output, a frame is built by
`agent.protocol`, and a spool removed while the shipper holds it (a stale acknowledgement) stops
nothing: the other attempts' output still goes."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

from agent import protocol
from agent.ledger import AttemptLedger
from agent.shipper import MAX_BYTES_IN_FLIGHT, LogShipper
from agent.spool import AttemptSpool, SpoolBudget
from agent.state import ProcessRecord


class FakeLink:
    def __init__(self, *, up: bool = True) -> None:
        self.connected = threading.Event()
        if up:
            self.connected.set()
        self.frames: list[dict] = []
        self.on_send = None

    def send(self, frame: dict) -> bool:
        if not self.connected.is_set():
            return False
        self.frames.append(frame)
        if self.on_send:
            self.on_send(frame)
        return True


def tracked_spool(ledger: AttemptLedger, tmp_path: Path, task: int, text: bytes) -> AttemptSpool:
    spool = AttemptSpool(tmp_path, task, 1, SpoolBudget(1 << 30))
    out, err = spool.task_fds()
    os.write(out, text)
    os.close(out)
    os.close(err)
    spool.close()
    ledger.track(ProcessRecord(task=task, attempt=1), spool)
    return spool


def test_reports_go_first_then_each_attempts_output(tmp_path: Path) -> None:
    ledger = AttemptLedger()
    tracked_spool(ledger, tmp_path, 1, b"one\n")
    ledger.ended_here((2, 1), protocol.exited(task=2, attempt=1, exit_code=0))
    link = FakeLink()
    LogShipper(ledger=ledger, link=link, running_reports=dict).ship_once()

    assert [f["type"] for f in link.frames] == ["report", "logs"]
    assert link.frames[0] == protocol.report_frame([protocol.exited(task=2, attempt=1, exit_code=0)])
    chunk = link.frames[1]["chunks"][0]
    assert set(chunk) <= set(protocol.CHUNK_FIELDS)
    assert (chunk["task"], chunk["attempt"], base64.b64decode(chunk["b64"])) == (1, 1, b"one\n")
    assert protocol.parse_chunks(link.frames[1]["chunks"])  # what the master accepts


def test_nothing_is_sent_while_the_link_is_down_and_ends_are_due_again(tmp_path: Path) -> None:
    ledger = AttemptLedger()
    spool = tracked_spool(ledger, tmp_path, 1, b"one\n")
    ledger.ended_here((2, 1), protocol.exited(task=2, attempt=1, exit_code=0))
    link = FakeLink(up=False)
    LogShipper(ledger=ledger, link=link, running_reports=dict).ship_once()
    assert link.frames == [] and spool.has_unsent
    assert ledger.reports_due(running={}, for_heartbeat=False), "still due"


def test_a_spool_removed_while_the_shipper_holds_it_stops_nothing(tmp_path: Path) -> None:
    ledger = AttemptLedger()
    first = tracked_spool(ledger, tmp_path, 1, b"first\n")
    tracked_spool(ledger, tmp_path, 2, b"second\n")
    tracked_spool(ledger, tmp_path, 3, b"third\n")
    link = FakeLink()

    def forget_the_second_when_the_first_goes(frame: dict) -> None:
        # A stale log acknowledgement arrives on the link thread while the shipper works down its list.
        if frame["chunks"][0]["task"] == 1:
            ledger.forget((2, 1)).remove()

    link.on_send = forget_the_second_when_the_first_goes
    LogShipper(ledger=ledger, link=link, running_reports=dict).ship_once()

    assert [base64.b64decode(frame["chunks"][0]["b64"]) for frame in link.frames] == [b"first\n", b"third\n"]
    assert not first.has_unsent


def test_a_flood_cannot_hold_back_another_attempts_output(tmp_path: Path) -> None:
    """Round robin with bounded bytes in flight: the second attempt's output goes in the first round,
    not after the flood's megabytes; nothing is acknowledged here, so the flood stops at its bound."""
    ledger = AttemptLedger()
    tracked_spool(ledger, tmp_path, 1, os.urandom(8 * 1024 * 1024))
    tracked_spool(ledger, tmp_path, 2, b"bystander\n")
    link = FakeLink()
    LogShipper(ledger=ledger, link=link, running_reports=dict).ship_once()

    tasks = [frame["chunks"][0]["task"] for frame in link.frames]
    assert tasks.index(2) <= 1
    flood_bytes = sum(len(base64.b64decode(c["b64"])) for f in link.frames for c in f["chunks"] if c["task"] == 1)
    assert flood_bytes <= MAX_BYTES_IN_FLIGHT + protocol.MAX_FRAME_BYTES
    assert all(len(protocol.dumps(frame).encode()) <= protocol.MAX_FRAME_BYTES for frame in link.frames)
