"""The attempt ledger, pure bookkeeping: each test feeds it what happened and checks the decision it
returns (start, kill, forget, which reports are due). No threads, no master; spools are real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent import protocol
from agent.ledger import (
    LOST_BY_RESTART,
    LOST_HERE,
    REPORT_MAX_WAIT_FOR_LOGS,
    REPORT_RESEND_AFTER,
    AttemptLedger,
)
from agent.spool import AttemptSpool, SpoolBudget
from agent.state import ProcessRecord


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> AttemptLedger:
    return AttemptLedger(clock=clock)


def spool_with_output(tmp_path: Path, task: int, attempt: int = 1, *, text: bytes = b"hello\n") -> AttemptSpool:
    spool = AttemptSpool(tmp_path, task, attempt, SpoolBudget(1 << 30))
    out, err = spool.task_fds()
    os.write(out, text)
    os.close(out)
    os.close(err)
    spool.close()
    return spool


def desired(generation: int, *assignments: dict) -> dict:
    return {"generation": generation, "node_status": "ONLINE", "draining": False, "assignments": list(assignments)}


def assigned(task: int, attempt: int = 1) -> dict:
    return protocol.assignment(task=task, attempt=attempt, status="ASSIGNED",
                               spec={"name": "", "command": "true", "env": {}, "timeout": None, "cpu": 500, "mem": 64})


def exited(task: int, attempt: int = 1, code: int = 0) -> protocol.Report:
    return protocol.exited(task=task, attempt=attempt, exit_code=code, at=1.0)


# -- plans --------------------------------------------------------------------------------------


def test_a_plan_claims_its_starts_so_a_second_answer_does_not_start_them_twice(ledger: AttemptLedger) -> None:
    first = ledger.plan(desired(1, assigned(1)), running=[], accepting=True)
    again = ledger.plan(desired(1, assigned(1)), running=[], accepting=True)
    assert [a["task"] for a in first.start] == [1]
    assert again is not None and again.start == []
    ledger.start_settled((1, 1))
    assert ledger.starting == set()


def test_an_older_answer_or_one_without_a_desired_state_is_no_plan(ledger: AttemptLedger) -> None:
    assert ledger.plan(desired(5), running=[], accepting=True) is not None
    assert ledger.plan(desired(4, assigned(1)), running=[], accepting=True) is None
    assert ledger.plan({"verdicts": []}, running=[], accepting=True) is None
    ledger.new_registration()
    assert ledger.plan(desired(0, assigned(1)), running=[], accepting=True).start


def test_lost_attempts_are_ended_with_a_lost_report(ledger: AttemptLedger) -> None:
    plan = ledger.plan(desired(1, {"task": 7, "attempt": 2, "status": "RUNNING"}), running=[], accepting=True)
    assert plan.lost == [(7, 2)]
    assert ledger.reports_due(running={}, for_heartbeat=False) == [
        protocol.lost(task=7, attempt=2, message=LOST_HERE)]


def test_an_ended_attempt_is_never_started_again(ledger: AttemptLedger) -> None:
    ledger.ended_here((1, 1), exited(1))
    plan = ledger.plan(desired(1, assigned(1)), running=[], accepting=True)
    assert plan.start == [] and plan.kill == []


# -- reports ------------------------------------------------------------------------------------


def test_an_end_report_waits_for_its_output_to_be_acknowledged(ledger: AttemptLedger, clock: Clock,
                                                              tmp_path: Path) -> None:
    spool = spool_with_output(tmp_path, 1)
    ledger.track(ProcessRecord(task=1, attempt=1), spool)
    ledger.ended_here((1, 1), exited(1))
    assert ledger.reports_due(running={}, for_heartbeat=True) == []
    spool.ack([0])
    assert ledger.reports_due(running={}, for_heartbeat=False) == [exited(1)]


def test_an_end_report_goes_without_its_output_after_waiting_long_enough(ledger: AttemptLedger, clock: Clock,
                                                                        tmp_path: Path) -> None:
    ledger.track(ProcessRecord(task=1, attempt=1), spool_with_output(tmp_path, 1))
    ledger.ended_here((1, 1), exited(1))
    clock.now += REPORT_MAX_WAIT_FOR_LOGS + 1
    assert ledger.reports_due(running={}, for_heartbeat=False) == [exited(1)]


def test_reports_are_resent_until_answered_and_at_once_after_a_reconnect(ledger: AttemptLedger,
                                                                         clock: Clock) -> None:
    ledger.ended_here((1, 1), exited(1))
    assert ledger.reports_due(running={}, for_heartbeat=False) == [exited(1)]
    assert ledger.reports_due(running={}, for_heartbeat=False) == [], "sent, not due yet"
    assert ledger.reports_due(running={}, for_heartbeat=True) == [exited(1)], "a heartbeat carries every end"
    clock.now += REPORT_RESEND_AFTER + 0.1
    assert ledger.reports_due(running={}, for_heartbeat=False) == [exited(1)]
    ledger.connected()
    assert ledger.reports_due(running={}, for_heartbeat=False) == [exited(1)]
    ledger.reports_not_sent()
    assert ledger.reports_due(running={}, for_heartbeat=False) == [exited(1)]
    assert ledger.verdict(protocol.verdict(task=1, attempt=1, state="exited")) == "forget"
    assert ledger.reports_due(running={}, for_heartbeat=True) == []


def test_an_unconfirmed_start_is_resent_and_a_heartbeat_lists_every_running_task(ledger: AttemptLedger,
                                                                                clock: Clock) -> None:
    report = protocol.running(task=1, attempt=1, pid=42, at=5.0)
    ledger.start_sent((1, 1))
    assert ledger.reports_due(running={(1, 1): report}, for_heartbeat=False) == []
    clock.now += REPORT_RESEND_AFTER + 0.1
    assert ledger.reports_due(running={(1, 1): report}, for_heartbeat=False) == [report]
    ledger.connected()
    assert ledger.reports_due(running={(1, 1): report}, for_heartbeat=False) == [report]
    assert ledger.verdict(protocol.verdict(task=1, attempt=1, state="running")) is None
    clock.now += 100
    assert ledger.reports_due(running={(1, 1): report}, for_heartbeat=False) == [], "confirmed"
    assert ledger.reports_due(running={(1, 1): report}, for_heartbeat=True) == [report]


# -- verdicts, acknowledgements, forgetting -------------------------------------------------------


def test_an_end_taken_with_output_still_unacknowledged_is_forgotten_once_the_output_is(
        ledger: AttemptLedger, tmp_path: Path) -> None:
    spool = spool_with_output(tmp_path, 1)
    ledger.track(ProcessRecord(task=1, attempt=1), spool)
    ledger.ended_here((1, 1), exited(1))
    assert ledger.verdict(protocol.verdict(task=1, attempt=1, state="exited")) is None
    assert ledger.output_acked((1, 1)) is False
    spool.ack([0])
    assert ledger.output_acked((1, 1)) is True
    assert ledger.forget((1, 1)) is spool
    assert (1, 1) in ledger.ended and ledger.spools == {} and ledger.records == {}


def test_a_stale_verdict_silences_the_attempt_and_forgets_it_once_its_process_is_gone(
        ledger: AttemptLedger, tmp_path: Path) -> None:
    spool = AttemptSpool(tmp_path, 1, 1, SpoolBudget(1 << 30))
    ledger.track(ProcessRecord(task=1, attempt=1), spool)
    ledger.start_sent((1, 1))
    assert ledger.verdict(protocol.verdict(task=1, attempt=1, state="running", result="stale")) == "stale"
    assert ledger.stale((1, 1), running=True) is False, "its exit will forget it"
    assert spool.closed and ledger.unconfirmed_starts == {}
    ledger.ended_here((1, 1), exited(1, code=143))
    assert ledger.reports_due(running={}, for_heartbeat=True) == [], "nothing of a stale attempt is reported"
    assert ledger.stale((2, 1), running=False) is True


def test_the_ledger_remembers_a_bounded_number_of_settled_attempts(clock: Clock) -> None:
    ledger = AttemptLedger(clock=clock, remembered=3)
    for task in range(1, 6):
        ledger.ended_here((task, 1), None)
    ledger.ended_here((6, 1), exited(6))
    ledger.forget((1, 1))
    assert list(ledger.ended) == [(4, 1), (5, 1), (6, 1)]


# -- a previous life --------------------------------------------------------------------------------


def test_recovery_reports_each_recorded_attempt_and_settles_fully_delivered_output(
        ledger: AttemptLedger, tmp_path: Path) -> None:
    delivered = spool_with_output(tmp_path, 3)
    delivered.ack([0])
    pending = spool_with_output(tmp_path, 4)
    records = [ProcessRecord(task=1, attempt=1, pid=10, exit_code=2, reason=None),
               ProcessRecord(task=2, attempt=1, pid=11)]
    settled = ledger.recover(spools={(3, 1): delivered, (4, 1): pending}, records=records)

    assert settled == [(3, 1)]
    assert ledger.reports_due(running={}, for_heartbeat=True) == [
        protocol.exited(task=1, attempt=1, exit_code=2),
        protocol.lost(task=2, attempt=1, message=LOST_BY_RESTART),
    ]
    assert not ledger.settled()
    plan = ledger.plan(desired(1, assigned(1), assigned(2), assigned(4)), running=[], accepting=True)
    assert plan.start == [], "attempts of a previous life never start again"
