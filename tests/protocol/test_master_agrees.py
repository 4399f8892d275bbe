"""The master and the agent speak the same protocol: the master's HTTP serializers, its consumer,
its desired state and the agent's reconciliation use `agent.protocol`'s names. A field or state
renamed on one side only fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agent import protocol
from agent.reconcile import reconcile
from scheduler_site.statuses import TaskStatus
from tasks.agents.consumer import AgentConsumer
from tasks.agents.desired import desired_for_node
from tasks.agents.serializers import HeartbeatSerializer, ReportSerializer
from tests import builders

AGENT = Path(__file__).resolve().parents[2] / "agent"


def test_the_http_report_declares_exactly_the_protocols_fields_states_and_reasons():
    fields = ReportSerializer().fields
    assert set(fields) == set(protocol.REPORT_FIELDS)
    assert set(fields["state"].choices) == {s.value for s in protocol.ReportState}
    assert set(fields["reason"].choices) == {r.value for r in protocol.ExitReason}
    assert set(HeartbeatSerializer().fields) == set(protocol.HEARTBEAT_FIELDS)


def test_the_http_heartbeat_accepts_what_the_agent_builds():
    reports = [protocol.running(task=1, attempt=1, pid=5, at=1.5),
               protocol.exited(task=2, attempt=3, exit_code=137, reason=protocol.ExitReason.OOM),
               protocol.lost(task=4, attempt=1, message="gone")]
    form = HeartbeatSerializer(data=protocol.heartbeat_body(cpu_usage=3.0, mem_usage=None, reports=reports))

    assert form.is_valid(), form.errors
    assert form.validated_data.reports == reports


def test_the_consumer_handles_every_frame_the_agent_may_send():
    assert set(AgentConsumer.HANDLERS) == set(protocol.UpFrame)


@pytest.mark.django_db
def test_the_desired_state_carries_the_fields_the_agent_reconciles_on():
    node = builders.node()
    assigned = builders.task_in(TaskStatus.ASSIGNED, on=node)
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    desired = desired_for_node(node.pk)

    assert set(desired) == {"generation", "node_status", "draining", "assignments"}
    by_task = {a["task"]: a for a in desired["assignments"]}
    assert set(by_task[assigned.pk]) == {*protocol.ASSIGNMENT_FIELDS, *protocol.ASSIGNMENT_SPEC_FIELDS}
    assert set(by_task[running.pk]) == set(protocol.ASSIGNMENT_FIELDS)
    # The agent starts what the master has ASSIGNED and reports lost what it has RUNNING but never ran.
    plan = reconcile(assignments=desired["assignments"], running=[], finished=[])
    assert [a["task"] for a in plan.start] == [assigned.pk]
    assert plan.lost == [(running.pk, running.attempt)]


def _frame_types_in(path: Path) -> set[str]:
    """Every `{"type": "<literal>", ...}` the module writes."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)):
                    found.add(value.value)
    return found


def test_every_frame_type_the_agent_writes_by_hand_is_one_of_the_protocol():
    written = set().union(*(_frame_types_in(path) for path in AGENT.rglob("*.py")))
    assert written <= {t.value for t in protocol.UpFrame}, written
