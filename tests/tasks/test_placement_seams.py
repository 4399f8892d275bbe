"""The seams the placement pass offers the features built on it: the re-check under the node locks
runs the plan's own filters; holds say why a task waits before the filters, in the order of
`WaitReason`; one queue order (priority, pluggable fair-share keys, age) on every store."""

from __future__ import annotations

import pytest
from django.db.models import F

from nodes.models import Node
from scheduler_site.statuses import WAIT_REASONS, WaitReason
from tasks.accounting import invariant_violations
from tasks.models import Task, TaskEvent, TaskStatus
from tasks.placement import holds, queue, reservation
from tasks.placement.nodetable import NodeView
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def books_balance(db):
    yield
    assert invariant_violations() == []


def fresh(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


def changed_after_snapshot(monkeypatch, change) -> None:
    """The race this guards against, made deterministic: `change` commits between the plan's
    snapshot of the nodes and the lock of their rows (another operator, another scheduler)."""
    snapshot = reservation._snapshot

    def snapshot_then_change():
        table = snapshot()
        change()
        return table

    monkeypatch.setattr(reservation, "_snapshot", snapshot_then_change)


def test_the_recheck_under_lock_runs_the_node_selector_too(monkeypatch):
    """The node's labels changed between the plan's snapshot and the lock: the plan is refused and
    the task waits, instead of running on a node its selector no longer matches."""
    node = builders.node("gpu-box", labels={"gpu": "yes"})
    task = builders.task(node_selector={"gpu": "yes"})
    changed_after_snapshot(monkeypatch, lambda: Node.objects.filter(pk=node.pk).update(labels={"gpu": "no"}))

    report = reservation.place_pending_tasks(max_passes=1)

    assert (report.placed, report.conflicts) == (0, 1)
    assert fresh(task).status == TaskStatus.PENDING
    assert Node.objects.get(pk=node.pk).cpu_allocated == 0


@pytest.mark.parametrize("change", [{"status": "OFFLINE"}, {"status": "UNHEALTHY"}, {"draining": True}])
def test_the_recheck_under_lock_refuses_a_node_that_changed_meanwhile(monkeypatch, change):
    node = builders.node("a")
    task = builders.task()
    changed_after_snapshot(monkeypatch, lambda: Node.objects.filter(pk=node.pk).update(**change))

    assert reservation.place_pending_tasks(max_passes=1).conflicts == 1
    assert fresh(task).status == TaskStatus.PENDING


def test_the_recheck_accounts_each_task_of_a_share_in_turn(monkeypatch):
    """Two tasks planned onto a node another scheduler half filled meanwhile: the first still fits, the
    second not once the first is counted, and the share goes back whole."""
    node = builders.node("a", cpu=2)
    first, second = builders.task(cpu=1), builders.task(cpu=1)
    changed_after_snapshot(
        monkeypatch, lambda: Node.objects.filter(pk=node.pk).update(cpu_allocated=F("cpu_allocated") + 500))

    report = reservation.place_pending_tasks(max_passes=1)

    assert report.conflicts == 2
    assert {fresh(first).status, fresh(second).status} == {TaskStatus.PENDING}
    Node.objects.filter(pk=node.pk).update(cpu_allocated=0)


def test_wait_reasons_are_listed_once_in_their_order():
    assert [r.value for r in WAIT_REASONS] == ["Dependency", "Backoff", "Throttle", "Quota", "Unschedulable"]


@pytest.fixture
def registered():
    added = []

    def register(kind, check):
        added.append(holds.register(kind, check))

    yield register
    for hold in added:
        holds.unregister(hold)


def test_a_hold_keeps_a_task_pending_with_its_kind_and_message_recorded_once(registered):
    builders.node()
    kept, free = builders.task(name="kept"), builders.task(name="free")
    registered(WaitReason.QUOTA, lambda tasks: {t.pk: "alice uses 4/4 cores" for t in tasks if t.name == "kept"})

    reservation.place_pending_tasks()
    reservation.place_pending_tasks()  # the same reason again: no second event

    assert fresh(free).status == TaskStatus.ASSIGNED
    kept = fresh(kept)
    assert (kept.status, kept.status_reason, kept.status_message) == (
        TaskStatus.PENDING, "Quota", "alice uses 4/4 cores")
    assert TaskEvent.objects.filter(task=kept, reason="Quota").count() == 1


def test_holds_are_asked_in_the_order_of_wait_reasons(registered):
    builders.node()
    task = builders.task()
    registered(WaitReason.QUOTA, lambda tasks: {t.pk: "over quota" for t in tasks})
    registered(WaitReason.DEPENDENCY, lambda tasks: {t.pk: "waiting for task 12" for t in tasks})

    reservation.place_pending_tasks()

    assert (fresh(task).status_reason, fresh(task).status_message) == ("Dependency", "waiting for task 12")


def test_a_task_no_node_can_take_says_unschedulable_through_the_same_field():
    builders.node(cpu=1)
    task = builders.task(cpu=2)

    reservation.place_pending_tasks()

    assert fresh(task).status_reason == WaitReason.UNSCHEDULABLE
    assert fresh(task).status_message.startswith("0/1 nodes are available: 1 Insufficient cpu")


def test_unschedulable_cannot_be_registered_as_a_hold():
    with pytest.raises(ValueError):
        holds.register(WaitReason.UNSCHEDULABLE, lambda tasks: {})


def test_the_queue_is_priority_then_fair_share_then_age(monkeypatch):
    low_old = builders.task(name="low-old", priority=0, mem=300)
    high = builders.task(name="high", priority=5, mem=300)
    low_new_small = builders.task(name="low-new-small", priority=0, mem=100)
    assert [t.name for t in queue.pending()] == ["high", "low-old", "low-new-small"]

    monkeypatch.setattr(queue, "FAIR_SHARE", [queue.Key("mem")])  # a stand-in fair-share key: less first

    assert [t.name for t in queue.pending()] == ["high", "low-new-small", "low-old"]
    first, _ = queue.claim(1, None)
    rest, _ = queue.claim(10, queue.cursor_of(first[0]))
    assert [t.name for t in first + rest] == ["high", "low-new-small", "low-old"]
    assert {low_old.pk, high.pk, low_new_small.pk} == {t.pk for t in first + rest}


def test_the_placement_pass_walks_the_queue_in_order_across_batches():
    builders.node(cpu=2)
    tasks = [builders.task(name=f"t{i}", priority=i % 3) for i in range(6)]

    reservation.place_pending_tasks(batch_size=2)

    placed = Task.objects.filter(status=TaskStatus.ASSIGNED).order_by("assigned_at", "id")
    assert sorted(t.priority for t in placed) == [2, 2]
    assert len(tasks) == 6


def test_the_node_view_reads_every_column_placement_needs():
    assert NodeView.fields()[:2] == ("id", "name")
    assert set(NodeView.fields()) <= {f.name for f in Node._meta.get_fields()}
