"""The attempt ledger: every attempt this agent holds besides its running processes (those are
the reaper's), and the decisions that follow from them. Plain bookkeeping under one lock, no I/O,
no threads, no callbacks: each method answers what the caller must do (start, kill, forget an
attempt's files, send these reports), and the agent's threads carry the answers out.

    starting             claimed by a plan, not yet a process
    unconfirmed starts   started here; the master has not answered the start report yet
    ended                ended here (this life or the last) and the end report until the master
                         takes it; kept (without report) to know it must never start again
    spools               each attempt's output until the master has all of it
    records              each attempt's process record (agent/state.py) until it is forgotten

An end report waits for its output to be acknowledged (at most REPORT_MAX_WAIT_FOR_LOGS), so a
task's log is complete when the master sees it end. An attempt is forgotten (files dropped, key
kept) once the master has both its end and all its output.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from agent import protocol
from agent.protocol import Report, ReportState, VerdictResult
from agent.reconcile import GenerationGate, Key, Plan, key_of, reconcile
from agent.spool import AttemptSpool
from agent.state import ProcessRecord

REPORT_RESEND_AFTER = 2.0
REPORT_MAX_WAIT_FOR_LOGS = 30.0  # an end report waits for its output to be stored, at most this long
REMEMBERED_ATTEMPTS = 10_000
START_REPORT_DUE = float("-inf")  # an unconfirmed start's "sent at" when it must go out at once
LOST_BY_RESTART = "The agent restarted; it killed the task's processes."
LOST_HERE = "The agent does not have this task (it restarted or lost it)."


@dataclass
class Ended:
    """An attempt that ended here, and its report until the master takes it."""

    report: Report | None
    since: float
    sent_at: float | None = None


class AttemptLedger:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, remembered: int = REMEMBERED_ATTEMPTS) -> None:
        self.clock = clock
        self.remembered = remembered
        self.gate = GenerationGate()
        self.spools: dict[Key, AttemptSpool] = {}
        self.records: dict[Key, ProcessRecord] = {}
        self.ended: OrderedDict[Key, Ended] = OrderedDict()
        self.starting: set[Key] = set()
        self.unconfirmed_starts: dict[Key, float] = {}  # key -> when its start report was sent
        self._lock = threading.RLock()

    # -- a previous life ------------------------------------------------------------------------

    def recover(self, *, spools: Mapping[Key, AttemptSpool], records: Iterable[ProcessRecord]) -> list[Key]:
        """What a previous life left: each record's attempt ended (exited if its exit was recorded,
        lost otherwise), each spool's output still to deliver. Returns the attempts already settled
        (output acknowledged, no end to report): forget them."""
        with self._lock:
            now = self.clock()
            self.spools.update(spools)
            for record in records:
                key = (record.task, record.attempt)
                self.records[key] = record
                if record.exit_code is not None:
                    report = protocol.exited(task=record.task, attempt=record.attempt, exit_code=record.exit_code,
                                             reason=record.reason)
                else:
                    report = protocol.lost(task=record.task, attempt=record.attempt, message=LOST_BY_RESTART)
                self.ended[key] = Ended(report=report, since=now)
            settled = []
            for key, spool in self.spools.items():
                ended = self.ended.setdefault(key, Ended(report=None, since=now))  # its end is the master's already
                if spool.fully_acked and ended.report is None:
                    settled.append(key)
            return settled

    # -- the master's desired state ---------------------------------------------------------------

    def plan(self, answer: Mapping, *, running: Iterable[Key], accepting: bool) -> Plan | None:
        """What to do about an answer carrying a desired state: None when it carries none or is older
        than one acted on. The plan's starts are claimed (`start_settled` when each is done) and its
        lost attempts recorded as ended with a `lost` report. `running`: the reaper's keys, read
        before this call (an attempt leaves the reaper only after its end is recorded here)."""
        if "assignments" not in answer:
            return None
        running = list(running)
        with self._lock:
            if not self.gate.admit(answer.get("generation")):
                return None
            plan = reconcile(assignments=answer["assignments"], running=[*running, *self.starting],
                             finished=self.ended.keys(), accepting=accepting)
            self.starting.update(key_of(assignment) for assignment in plan.start)
            now = self.clock()
            for key in plan.lost:
                self.ended[key] = Ended(report=protocol.lost(task=key[0], attempt=key[1], message=LOST_HERE),
                                        since=now)
            return plan

    def new_registration(self) -> None:
        """A new identity: the master's generations start again."""
        with self._lock:
            self.gate.reset()

    @property
    def generation_seen(self) -> int:
        return self.gate.seen

    # -- starting -------------------------------------------------------------------------------

    def track(self, record: ProcessRecord, spool: AttemptSpool) -> None:
        """An attempt about to start: its record and spool are held from now on."""
        with self._lock:
            key = (record.task, record.attempt)
            self.records[key] = record
            self.spools[key] = spool

    def start_sent(self, key: Key) -> None:
        """Its start report went out (or will, once connected): resend until answered."""
        with self._lock:
            self.unconfirmed_starts[key] = self.clock()

    def start_settled(self, key: Key) -> None:
        """The plan's start of `key` is over (a process, or an end): no longer claimed."""
        with self._lock:
            self.starting.discard(key)

    def update_record(self, key: Key, **fields: object) -> ProcessRecord | None:
        """Change an attempt's process record; returns a copy to save (None: not held)."""
        with self._lock:
            record = self.records.get(key)
            if record is None:
                return None
            for name, value in fields.items():
                setattr(record, name, value)
            return replace(record)

    # -- ends -----------------------------------------------------------------------------------

    def ended_here(self, key: Key, report: Report | None) -> None:
        """An attempt ended (`report` None: nothing to report, e.g. killed because the agent stops).
        An attempt already settled (refused as stale) keeps having nothing to report."""
        with self._lock:
            self.unconfirmed_starts.pop(key, None)
            if key not in self.ended:
                self.ended[key] = Ended(report=report, since=self.clock())

    def verdict(self, verdict: Mapping) -> str | None:
        """The master's answer to a report. Returns "stale" (kill the attempt and drop it: see
        `stale`), "forget" (its end and output are the master's: drop its files) or None."""
        key = key_of(verdict)
        with self._lock:
            self.unconfirmed_starts.pop(key, None)
            if verdict.get("result") == VerdictResult.STALE:
                return "stale"
            if verdict.get("state") not in (ReportState.EXITED, ReportState.LOST):
                return None
            ended = self.ended.get(key)
            if ended is not None:
                ended.report = None
            spool = self.spools.get(key)
            return "forget" if spool is None or spool.fully_acked else None

    def stale(self, key: Key, *, running: bool) -> bool:
        """The attempt is not this node's (fencing): nothing of it is reported or shipped any more.
        Returns whether to forget it now (False while its process still runs: its exit will)."""
        with self._lock:
            self.ended.setdefault(key, Ended(report=None, since=self.clock())).report = None
            spool = self.spools.get(key)
            if spool is not None:
                spool.closed = True
            return not running

    def output_acked(self, key: Key) -> bool:
        """Some of the attempt's output was acknowledged: whether it is now settled (forget it)."""
        with self._lock:
            spool, ended = self.spools.get(key), self.ended.get(key)
            return spool is not None and spool.fully_acked and ended is not None and ended.report is None

    def forget(self, key: Key) -> AttemptSpool | None:
        """The master has this attempt's end and all its output: it leaves the ledger (its key stays
        among the ended, so it never starts again). Returns its spool, for the caller to remove
        with the attempt's record and working directory."""
        with self._lock:
            spool = self.spools.pop(key, None)
            self.records.pop(key, None)
            if key in self.ended:
                self.ended[key].report = None
            while len(self.ended) > self.remembered:
                oldest, ended = next(iter(self.ended.items()))
                if ended.report is not None or oldest in self.spools:
                    break
                self.ended.popitem(last=False)
            return spool

    # -- sending --------------------------------------------------------------------------------

    def reports_due(self, *, running: Mapping[Key, Report], for_heartbeat: bool) -> list[Report]:
        """Reports to send now: end reports whose output is delivered (or waited long enough), and
        the start reports of `running` (the reaper's running processes) that are due, or, in a
        heartbeat, all of them. Marks what it returns as sent."""
        now = self.clock()
        out: list[Report] = []
        with self._lock:
            for key, report in running.items():
                sent = self.unconfirmed_starts.get(key)
                due = sent is not None and now - sent > REPORT_RESEND_AFTER
                if for_heartbeat or due:
                    out.append(report)
                    if due:
                        self.unconfirmed_starts[key] = now
            for key, ended in self.ended.items():
                if ended.report is None:
                    continue
                spool = self.spools.get(key)
                logs_done = spool is None or spool.fully_acked or now - ended.since > REPORT_MAX_WAIT_FOR_LOGS
                resend_due = ended.sent_at is None or now - ended.sent_at > REPORT_RESEND_AFTER
                if logs_done and (for_heartbeat or resend_due):
                    out.append(ended.report)
                    ended.sent_at = now
        return out

    def reports_not_sent(self) -> None:
        """A report frame could not be sent: every pending end is due again."""
        with self._lock:
            for ended in self.ended.values():
                ended.sent_at = None

    def connected(self) -> list[AttemptSpool]:
        """A new connection: every start and end report is due again (one may have been lost with the
        old connection). Returns the spools, to send again all they have not had acknowledged."""
        with self._lock:
            for key in self.unconfirmed_starts:
                self.unconfirmed_starts[key] = START_REPORT_DUE
            for ended in self.ended.values():
                ended.sent_at = None
            return list(self.spools.values())

    def spools_to_ship(self) -> list[AttemptSpool]:
        with self._lock:
            return list(self.spools.values())

    def spool(self, key: Key) -> AttemptSpool | None:
        with self._lock:
            return self.spools.get(key)

    def settled(self) -> bool:
        """Nothing left to deliver: no pending end report, all output acknowledged."""
        with self._lock:
            return not any(e.report for e in self.ended.values()) and all(
                s.fully_acked for s in self.spools.values())
