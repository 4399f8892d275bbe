"""The master's side of the agent protocol, shared by the HTTP heartbeat and the agent WebSocket.

In: heartbeats (usage) and reports naming (task, attempt): running, exited with a code, lost.
Out: the node's full desired assignment list with its generation (level-triggered: the agent
starts what it should run and kills what it should not), and a verdict per report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import FilteredRelation, Q
from django.utils import timezone

from nodes.health import record_heartbeat
from nodes.models import Node
from scheduler_site.exceptions import StaleAttempt
from tasks import fencing, recovery, states
from tasks.models import ACTIVE_STATUSES, Task, TaskStatus
from tasks.placement.trigger import request_placement

MAX_CLOCK_SKEW = 60.0  # seconds; agent timestamps further off than this are replaced by ours

REPORT_STATES = ("running", "exited", "lost")
EXIT_REASONS = ("timeout", "oom", "killed")


@dataclass(frozen=True)
class Report:
    task: int
    attempt: int
    state: str
    exit_code: int | None = None
    reason: str | None = None  # for exits: timeout, oom (memory limit), killed (by the agent)
    at: float | None = None  # unix time the agent saw it happen
    message: str = ""


def desired_for_nodes(node_ids: list[int]) -> dict[int, dict]:
    """Everything each node should be running, read in one statement with the node's generation,
    so an agent can order answers that arrive out of order."""
    rows = (
        Node.objects.filter(pk__in=node_ids)
        .annotate(active=FilteredRelation("tasks", condition=Q(tasks__status__in=ACTIVE_STATUSES)))
        .values_list(
            "id", "generation", "status", "draining", "active__id", "active__attempt", "active__status",
            "active__name", "active__command", "active__env", "active__timeout", "active__cpu", "active__mem",
        )
        .order_by("id", "active__id")
    )
    answers: dict[int, dict] = {}
    for node_id, generation, node_status, draining, task_id, attempt, status, name, command, env, timeout, cpu, mem \
            in rows:
        answer = answers.setdefault(
            node_id, {"generation": generation, "node_status": node_status, "draining": draining, "assignments": []}
        )
        if task_id is None:
            continue
        entry = {"task": task_id, "attempt": attempt, "status": status}
        if status == TaskStatus.ASSIGNED:  # only what is yet to start needs its spec
            entry.update(name=name, command=command, env=env, timeout=timeout, cpu=cpu, mem=mem)
        answer["assignments"].append(entry)
    return answers


def desired_for_node(node_id: int) -> dict:
    return desired_for_nodes([node_id]).get(
        node_id, {"generation": None, "node_status": None, "draining": None, "assignments": []}
    )


def _when(at: float | None) -> datetime:
    now = timezone.now()
    if at is None or abs(at - time.time()) > MAX_CLOCK_SKEW:
        return now
    return datetime.fromtimestamp(at, tz=UTC)


def _finish(task: Task, report: Report) -> None:
    code = report.exit_code
    at = _when(report.at)
    if report.reason == "timeout":
        states.transition(task, TaskStatus.FAILED, reason="Timeout", exit_code=code, at=at,
                          message=f"Killed after its {task.timeout:g}s timeout (exit code {code}).")
    elif report.reason == "oom":
        states.transition(task, TaskStatus.FAILED, reason="OOMKilled", exit_code=code, at=at,
                          message=f"Killed for exceeding its memory limit of {task.mem} MiB (exit code {code}).")
    elif code == 0:
        states.transition(task, TaskStatus.SUCCEEDED, reason="Succeeded", exit_code=0, at=at,
                          message="Exited with code 0.")
    else:
        detail = f"killed by signal {code - 128}" if code is not None and code > 128 else f"exited with code {code}"
        states.transition(task, TaskStatus.FAILED, reason="Failed", exit_code=code, at=at,
                          message=f"The command {detail}." + (f" {report.message}" if report.message else ""))
    request_placement()


def apply_report(node_id: int, report: Report) -> dict:
    """Apply one report under fencing; returns {'task', 'attempt', 'result': 'ok'|'stale', 'detail'}."""
    verdict = {"task": report.task, "attempt": report.attempt, "state": report.state, "result": "ok"}
    try:
        with transaction.atomic():
            task = fencing.lock_current_attempt(task_id=report.task, attempt=report.attempt, node_id=node_id)
            if task.status not in ACTIVE_STATUSES:
                return verdict  # finished or cancelled already: nothing to do, and nothing to reject
            if report.state == "running":
                if task.status == TaskStatus.ASSIGNED:
                    states.transition(task, TaskStatus.RUNNING, reason="Started", at=_when(report.at),
                                      message=f"Started on {task.node_name}.")
            elif report.state == "exited":
                _finish(task, report)
            elif report.state == "lost":
                recovery.requeue(task, reason="AgentLost",
                                 message=report.message or f"The agent on {task.node_name} lost the task.")
    except StaleAttempt as stale:
        verdict.update(result="stale", detail=stale.message)
    return verdict


def apply_reports(node: Node, reports: list[Report]) -> dict:
    """Apply what the agent reports and answer with its desired state and a verdict per report.
    'running' reports cost nothing when the master already has the task RUNNING."""
    answer = desired_for_node(node.pk)
    known = {(a["task"], a["attempt"]): a["status"] for a in answer["assignments"]}
    verdicts, changed = [], False
    for report in reports:
        if report.state == "running" and known.get((report.task, report.attempt)) == TaskStatus.RUNNING:
            verdicts.append({"task": report.task, "attempt": report.attempt, "state": "running", "result": "ok"})
            continue
        verdicts.append(apply_report(node.pk, report))
        changed = True
    if changed:
        answer = desired_for_node(node.pk)
    answer["verdicts"] = verdicts
    return answer


def handle_heartbeat(node: Node, *, cpu_usage: float | None, mem_usage: float | None,
                     reports: list[Report]) -> dict:
    record_heartbeat(node, cpu_usage=cpu_usage, mem_usage=mem_usage)
    return apply_reports(node, reports)
