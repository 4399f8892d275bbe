"""The master's side of the agent protocol, shared by the HTTP heartbeat and the agent WebSocket.

In: heartbeats (usage) and reports naming (task, attempt): running, exited with a code, lost.
Out: the node's full desired assignment list with its generation (level-triggered: the agent
starts what it should run and kills what it should not), and a verdict per report.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from agent.protocol import ExitReason, Report, ReportState, VerdictResult, verdict
from nodes.health import record_heartbeat
from nodes.models import Node
from scheduler_site.exceptions import StaleAttempt
from scheduler_site.statuses import ACTIVE_STATUSES, TaskStatus
from tasks import recovery, states
from tasks.agents import fencing
from tasks.agents.desired import desired_for_node
from tasks.batch import retries
from tasks.models import Task
from tasks.placement.trigger import request_placement

MAX_CLOCK_SKEW = 60.0  # seconds; agent timestamps further off than this are replaced by ours

__all__ = ["Report", "apply_report", "apply_reports", "handle_heartbeat"]


def _when(at: float | None) -> datetime:
    now = timezone.now()
    if at is None or abs(at - time.time()) > MAX_CLOCK_SKEW:
        return now
    return datetime.fromtimestamp(at, tz=UTC)


def _finish(task: Task, report: Report) -> None:
    """The attempt ended: SUCCEEDED, or FAILED (Failed, Timeout, OOMKilled) unless a retry is left
    for it (`tasks.batch.retries`), then PENDING for its next attempt after the backoff."""
    code = report.exit_code
    at = _when(report.at)
    if report.reason == ExitReason.TIMEOUT:
        reason = "Timeout"
        message = f"Killed after its {task.timeout:g}s timeout (exit code {code})."
    elif report.reason == ExitReason.OOM:
        reason = "OOMKilled"
        message = f"Killed for exceeding its memory limit of {task.mem} MiB (exit code {code})."
    elif code == 0:
        reason, message = "Succeeded", "Exited with code 0."
    else:
        reason = "Failed"
        message = exit_sentence(code) + (f" {report.message}" if report.message else "")
    if reason == "Succeeded":
        states.transition(task, TaskStatus.SUCCEEDED, reason=reason, exit_code=0, at=at, message=message)
    elif retries.wants_retry(task, exit_code=code):
        recovery.requeue(task, reason=reason, message=message, charge="retry", exit_code=code)
    else:
        states.transition(task, TaskStatus.FAILED, reason=reason, exit_code=code, at=at, message=message)
    request_placement()


def exit_sentence(code: int | None) -> str:
    """'The command exited with code 3.' or 'The command was killed by signal 10 (SIGUSR1).' (a shell
    reports death by signal N as 128+N)."""
    if code is None or code <= 128:
        return f"The command exited with code {code}."
    number = code - 128
    try:
        name = f" ({signal.Signals(number).name})"
    except ValueError:
        name = ""
    return f"The command was killed by signal {number}{name}."


def apply_report(node_id: int, report: Report) -> dict:
    """Apply one report under fencing; returns its verdict (ok, or stale with the detail)."""
    try:
        with transaction.atomic():
            task = fencing.lock_current_attempt(task_id=report.task, attempt=report.attempt, node_id=node_id)
            if task.status not in ACTIVE_STATUSES:
                if report.state == ReportState.EXITED:
                    states.record_late_exit(task, report.exit_code)  # a cancelled attempt's real exit code
                return _ok(report)  # finished or cancelled already: nothing else to do, nothing to reject
            if report.state == ReportState.RUNNING:
                if task.status == TaskStatus.ASSIGNED:
                    states.transition(task, TaskStatus.RUNNING, reason="Started", at=_when(report.at),
                                      message=f"Started on {task.node_name}.")
            elif report.state == ReportState.EXITED:
                _finish(task, report)
            elif report.state == ReportState.LOST:
                recovery.requeue(task, reason="AgentLost",
                                 message=report.message or f"The agent on {task.node_name} lost the task.")
    except StaleAttempt as stale:
        return verdict(task=report.task, attempt=report.attempt, state=report.state, result=VerdictResult.STALE,
                       detail=stale.message)
    return _ok(report)


def _ok(report: Report) -> dict:
    return verdict(task=report.task, attempt=report.attempt, state=report.state)


def apply_reports(node: Node, reports: list[Report]) -> dict:
    """Apply what the agent reports and answer with its desired state and a verdict per report.
    'running' reports cost nothing when the master already has the task RUNNING."""
    answer = desired_for_node(node.pk)
    known = {(a["task"], a["attempt"]): a["status"] for a in answer["assignments"]}
    verdicts, changed = [], False
    for report in reports:
        if report.state == ReportState.RUNNING and known.get((report.task, report.attempt)) == TaskStatus.RUNNING:
            verdicts.append(_ok(report))
            continue
        verdicts.append(apply_report(node.pk, report))
        changed = True
    if changed:
        answer = desired_for_node(node.pk)
    answer["verdicts"] = verdicts
    return answer


def handle_heartbeat(node: Node, *, cpu_usage: float | None, mem_usage: float | None,
                     reports: list[Report], gpu_usage: list[dict] | None = None) -> dict:
    record_heartbeat(node, cpu_usage=cpu_usage, mem_usage=mem_usage, gpu_usage=gpu_usage)
    return apply_reports(node, reports)
