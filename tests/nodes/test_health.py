"""Heartbeats written in batches (the agents' WebSocket path): one statement for many nodes, on
the store this run uses (SQLite as Python links it, and PostgreSQL on the PostgreSQL run)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from nodes.health import record_heartbeats
from nodes.models import Node, NodeStatus
from tests import builders

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_stamps_every_node_keeps_its_usage_and_answers_its_generation():
    a, b = builders.node("node-a"), builders.node("node-b")
    builders.age_heartbeat(a, 2)
    builders.age_heartbeat(b, 2)
    Node.objects.filter(pk=b.pk).update(draining=True)
    beats_before = sample("scheduler_heartbeats_total", transport="websocket")
    gaps_before = sample("scheduler_heartbeat_gap_seconds_count")
    gap_sum_before = sample("scheduler_heartbeat_gap_seconds_sum")

    answers = record_heartbeats([(a.pk, 12.5, 40.0), (b.pk, None, None)])

    a.refresh_from_db()
    b.refresh_from_db()
    assert answers == {a.pk: (a.generation, NodeStatus.ONLINE, False), b.pk: (b.generation, NodeStatus.ONLINE, True)}
    assert (a.cpu_usage, a.mem_usage, b.cpu_usage, b.mem_usage) == (12.5, 40.0, None, None)
    assert a.last_heartbeat == b.last_heartbeat  # one statement, one time
    assert sample("scheduler_heartbeats_total", transport="websocket") == beats_before + 2
    # The gap is measured from each node's previous heartbeat (aged 2 s above), not from the new one.
    assert sample("scheduler_heartbeat_gap_seconds_count") == gaps_before + 2
    assert 4.0 <= sample("scheduler_heartbeat_gap_seconds_sum") - gap_sum_before < 6.0


def test_a_node_that_was_not_online_comes_back_through_the_full_path():
    silent, fine = builders.node("silent"), builders.node("fine")
    Node.objects.filter(pk=silent.pk).update(status=NodeStatus.UNHEALTHY)

    answers = record_heartbeats([(silent.pk, 1.0, 2.0), (fine.pk, 3.0, 4.0)])

    silent.refresh_from_db()
    assert silent.status == NodeStatus.ONLINE and silent.events.filter(reason="HeartbeatResumed").exists()
    assert answers[silent.pk][1] == answers[fine.pk][1] == NodeStatus.ONLINE
    assert (silent.cpu_usage, silent.mem_usage) == (1.0, 2.0)


def test_an_unknown_node_gets_no_answer_and_breaks_nothing():
    known = builders.node("known")
    answers = record_heartbeats([(known.pk + 1000, 1.0, 1.0), (known.pk, 1.0, 1.0)])
    assert set(answers) == {known.pk}
