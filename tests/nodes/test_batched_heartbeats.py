"""The batched heartbeat write and the batched UPDATE it is built on, on the store under test
(the SQLite this Python links, and PostgreSQL in the PostgreSQL run): the WebSocket heartbeat path
failed on every batch on SQLite 3.40 (`no such column: before.last_heartbeat`)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from nodes.health import record_heartbeats
from nodes.models import Node, NodeStatus
from scheduler_site import metrics, sql
from tests import builders

pytestmark = pytest.mark.django_db


def websocket_beats() -> float:
    return metrics.HEARTBEATS.labels("websocket")._value.get()


def test_a_batch_of_heartbeats_is_written_and_answered_with_each_nodes_generation():
    a, b = builders.node("a"), builders.node("b")
    Node.objects.filter(pk=b.pk).update(generation=7, draining=True)
    builders.age_heartbeat(a, 2)
    builders.age_heartbeat(b, 2)
    counted = websocket_beats()
    started = timezone.now()

    answers = record_heartbeats([(a.pk, 12.5, 40.0), (b.pk, None, None)])

    assert answers == {a.pk: (0, NodeStatus.ONLINE, False), b.pk: (7, NodeStatus.ONLINE, True)}
    fresh_a, fresh_b = Node.objects.get(pk=a.pk), Node.objects.get(pk=b.pk)
    assert (fresh_a.cpu_usage, fresh_a.mem_usage) == (12.5, 40.0)
    assert (fresh_b.cpu_usage, fresh_b.mem_usage) == (None, None)
    assert fresh_a.last_heartbeat >= started and fresh_b.last_heartbeat >= started
    assert websocket_beats() == counted + 2


def test_a_silent_node_in_the_batch_comes_back_online_and_an_unknown_one_is_left_out():
    quiet = builders.node("quiet")
    builders.age_heartbeat(quiet, 15)
    Node.objects.filter(pk=quiet.pk).update(status=NodeStatus.UNHEALTHY)

    answers = record_heartbeats([(quiet.pk, 1.0, 2.0), (987654, 1.0, 2.0)])

    assert answers == {quiet.pk: (0, NodeStatus.ONLINE, False)}
    assert Node.objects.get(pk=quiet.pk).status == NodeStatus.ONLINE
    assert quiet.events.filter(reason="HeartbeatResumed").exists()


def test_update_from_values_writes_every_chunk_filters_and_returns_the_tables_columns(monkeypatch):
    monkeypatch.setattr(sql, "ROWS_PER_STATEMENT", 2)  # five rows: three statements
    nodes = [builders.node(f"n{i}") for i in range(5)]
    Node.objects.filter(pk=nodes[4].pk).update(status=NodeStatus.OFFLINE)
    table = Node._meta.db_table

    updated, rows = sql.update_from_values(
        table,
        columns=[("id", "bigint"), ("cpu", "integer"), ("usage", "double precision")],
        rows=[(node.pk, 100 * i, None if i % 2 else float(i)) for i, node in enumerate(nodes)],
        set_sql=f"cpu_allocated = {table}.cpu_allocated + v.cpu, cpu_usage = v.usage",
        where_sql=f"{table}.status = %s",
        where_params=[NodeStatus.ONLINE],
        returning=["id", "cpu_allocated", "cpu_usage"],
    )

    assert updated == 4
    assert sorted(rows) == [(node.pk, 100 * i, None if i % 2 else float(i)) for i, node in enumerate(nodes[:4])]
    assert Node.objects.get(pk=nodes[4].pk).cpu_allocated == 0


def test_update_from_values_counts_rows_without_returning():
    node = builders.node()
    table = Node._meta.db_table

    updated, rows = sql.update_from_values(table, columns=[("id", "bigint"), ("mem", "integer")],
                                           rows=[(node.pk, 64), (node.pk + 1000, 64)],
                                           set_sql=f"mem_allocated = {table}.mem_allocated + v.mem")

    assert (updated, rows) == (1, [])
    assert Node.objects.get(pk=node.pk).mem_allocated == 64


def test_gpu_usage_is_written_by_the_batch_and_shown_by_the_node_api():
    from nodes.presenters import node_summary

    gpu_box, plain = builders.node("gpu-box"), builders.node("plain")
    Node.objects.filter(pk=plain.pk).update(gpu_usage=[{"index": 0, "util": 1.0}])
    usage = [{"index": 0, "util": 87.0, "mem_used": 31250.0, "mem_total": 40960.0},
             {"index": 1, "util": None, "mem_used": None, "mem_total": 40960.0}]

    record_heartbeats([(gpu_box.pk, 1.0, 2.0, usage), (plain.pk, 1.0, 2.0)])

    assert Node.objects.get(pk=gpu_box.pk).gpu_usage == usage
    assert node_summary(Node.objects.get(pk=gpu_box.pk))["gpu_usage"] == usage
    assert Node.objects.get(pk=plain.pk).gpu_usage is None  # a heartbeat without it: no usage known
