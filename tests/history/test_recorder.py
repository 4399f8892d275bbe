"""The history recorder: what one bucket holds, idempotence across sweepers, rollups, pruning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from nodes.models import Node
from tasks.history.models import ClusterSample, NodeSample
from tasks.history.recorder import bucket_start, forget_memo, prune_history, record_history, rollup
from tasks.models import TaskEvent, TaskStatus
from tasks.sweep import sweep_once
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_memo():
    forget_memo()
    yield
    forget_memo()


def closing(now=None):
    """A time just after the 10 s bucket holding `now` closed."""
    now = now or timezone.now()
    return bucket_start(now, 10) + timedelta(seconds=10, milliseconds=1)


def test_a_bucket_holds_usage_vs_allocation_per_node_and_for_the_cluster():
    a, b = builders.node("a", cpu=4, mem=8192, labels={"pool": "a"}), builders.node("b", cpu=2, mem=4096)
    gone = builders.node("gone", cpu=8, mem=8192)
    Node.objects.filter(pk=a.pk).update(cpu_usage=50.0, mem_usage=25.0)
    Node.objects.filter(pk=b.pk).update(cpu_usage=100.0, mem_usage=None)
    Node.objects.filter(pk=gone.pk).update(status="OFFLINE")
    builders.task_in(TaskStatus.RUNNING, on=a, cpu=1.5, mem=512, node_selector={"pool": "a"})
    builders.task("waits", cpu=64)  # cannot fit: stays PENDING

    assert record_history(now=closing(), publish=False)

    sample = ClusterSample.objects.get(step=10)
    assert (sample.cpu_capacity, sample.cpu_used, sample.cpu_allocated) == (6000, 2000 + 2000, 1500)
    assert (sample.mem_capacity, sample.mem_used, sample.mem_allocated) == (12288, 2048, 512)
    assert sample.nodes_online == 2
    assert sample.queue_depth == 1
    per_node = {n.node_id: n for n in NodeSample.objects.filter(step=10)}
    assert set(per_node) == {a.pk, b.pk}  # OFFLINE nodes are not sampled
    assert (per_node[a.pk].cpu_used, per_node[a.pk].cpu_allocated, per_node[a.pk].mem_used) == (2000, 1500, 2048)


def test_a_bucket_counts_the_transitions_in_it_and_the_placement_latency():
    node = builders.node("a", cpu=8)
    ok = builders.task_in(TaskStatus.SUCCEEDED, on=node)
    bad = builders.task_in(TaskStatus.FAILED, on=node)
    builders.task_in(TaskStatus.RUNNING, on=node)
    # the placements happened 1.5 s after the submits (move the submit events back in time)
    for t in (ok, bad):
        placed_at = TaskEvent.objects.get(task=t, to_status="ASSIGNED").created_at
        TaskEvent.objects.filter(task=t, reason="Submitted").update(created_at=placed_at - timedelta(seconds=1.5))
    now = closing()
    assert bucket_start(now, 10) > TaskEvent.objects.latest("id").created_at  # all in the closed bucket

    record_history(now=now, publish=False)

    sample = ClusterSample.objects.get(step=10)
    assert (sample.started, sample.succeeded, sample.failed) == (3, 1, 1)
    assert sample.placements == 3
    assert sample.placement_ms_max == 1500
    assert 3000 <= sample.placement_ms_sum <= 3000 + 1000


def test_several_sweepers_write_one_row_per_bucket():
    builders.node("a")
    now = closing()
    assert record_history(now=now, publish=False) is True
    forget_memo()  # another process
    assert record_history(now=now + timedelta(seconds=3), publish=False) is False
    assert ClusterSample.objects.filter(step=10).count() == 1
    assert NodeSample.objects.filter(step=10).count() == 1
    assert record_history(now=now + timedelta(seconds=10), publish=False) is True
    assert ClusterSample.objects.filter(step=10).count() == 2


def test_the_sweeper_pass_records_history():
    builders.node("a")
    summary = sweep_once(now=closing())
    assert summary["sampled"] == 1
    assert ClusterSample.objects.filter(step=10).count() == 1


def make_rows(step: int, start, n: int, **values) -> None:
    node = Node.objects.first() or builders.node("a")
    for i in range(n):
        at = start + timedelta(seconds=step * i)
        v = {k: (fn(i) if callable(fn) else fn) for k, fn in values.items()}
        ClusterSample.objects.create(step=step, bucket=at, **v)
        NodeSample.objects.create(step=step, bucket=at, node=node, cpu_used=v.get("cpu_used", 0), cpu_capacity=4000)


def test_closed_minutes_roll_up_averaging_gauges_and_summing_counts():
    minute = bucket_start(timezone.now(), 60) - timedelta(minutes=3)
    make_rows(10, minute, 6, cpu_used=lambda i: 1000 * i, started=2, placements=1, placement_ms_sum=10,
              placement_ms_max=lambda i: i, queue_depth=lambda i: i)

    rollup(now=minute + timedelta(seconds=61))

    row = ClusterSample.objects.get(step=60, bucket=minute)
    assert row.cpu_used == 2500  # average of 0..5000
    assert row.started == 12 and row.placements == 6 and row.placement_ms_sum == 60
    assert row.placement_ms_max == 5
    assert row.queue_depth == round(2.5)
    assert NodeSample.objects.get(step=60, bucket=minute).cpu_used == 2500
    rollup(now=minute + timedelta(seconds=65))  # again: nothing new
    assert ClusterSample.objects.filter(step=60).count() == 1


def test_ten_minute_rows_roll_up_from_minutes():
    start = bucket_start(timezone.now(), 600) - timedelta(minutes=20)
    make_rows(60, start, 10, cpu_used=lambda i: 100 * i, succeeded=1)
    rollup(now=start + timedelta(seconds=600, milliseconds=5))
    row = ClusterSample.objects.get(step=600, bucket=start)
    assert (row.cpu_used, row.succeeded) == (450, 10)


def test_pruning_keeps_each_tier_for_its_time_and_prunelogs_runs_it(capsys):
    now = timezone.now()
    make_rows(10, now - timedelta(hours=2), 1)
    make_rows(10, now - timedelta(minutes=30), 1)
    make_rows(60, now - timedelta(days=2), 1)
    make_rows(60, now - timedelta(hours=20), 1)
    make_rows(600, now - timedelta(days=8), 1)
    make_rows(600, now - timedelta(days=6), 1)
    assert prune_history(now=now) == 6  # three cluster rows and their node rows
    assert sorted(ClusterSample.objects.values_list("step", flat=True)) == [10, 60, 600]

    make_rows(10, now - timedelta(hours=3), 1)
    call_command("prunelogs")
    assert "deleted 2 history row(s)" in capsys.readouterr().out
