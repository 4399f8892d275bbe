"""The task state machine (`tasks.states`): which edges exist, what a transition writes, and that a
task leaving ASSIGNED/RUNNING gives its node reservation back in the same transaction."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from nodes.models import Node
from scheduler_site.exceptions import InvalidTransition
from tasks import states
from tasks.accounting import invariant_violations
from tasks.models import Task, TaskEvent, TaskStatus
from tasks.placement.reservation import place_pending_tasks
from tests import builders

pytestmark = pytest.mark.django_db

S = TaskStatus
STATUSES = list(S)
# Written out here, not read from `states.ALLOWED`: this table is the specification the module must meet.
EDGES = {
    (S.PENDING, S.ASSIGNED), (S.PENDING, S.CANCELLED),
    (S.ASSIGNED, S.RUNNING), (S.ASSIGNED, S.SUCCEEDED), (S.ASSIGNED, S.FAILED), (S.ASSIGNED, S.CANCELLED),
    (S.ASSIGNED, S.PENDING),
    (S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED), (S.RUNNING, S.CANCELLED), (S.RUNNING, S.PENDING),
}
PAIRS = list(itertools.product(STATUSES, STATUSES))
FORBIDDEN = [pair for pair in PAIRS if pair not in EDGES]
# ASSIGNED is reached only through placement (`assign_many`), which the next tests cover separately.
TRANSITIONS = sorted(edge for edge in EDGES if edge[1] != S.ASSIGNED)


def pair_id(pair) -> str:
    return f"{pair[0]}->{pair[1]}"


@pytest.fixture
def node(db) -> Node:
    return builders.node("node-a", cpu=4, mem=8192)


def snapshot(task: Task) -> dict:
    row = Task.objects.filter(pk=task.pk).values().get()
    return {"task": row, "events": TaskEvent.objects.filter(task=task).count(),
            "nodes": list(Node.objects.order_by("pk").values("cpu_allocated", "mem_allocated", "generation"))}


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_can_transition_matches_the_table_for_every_pair(pair):
    assert states.can_transition(*pair) is (pair in EDGES)


def test_terminal_statuses_have_no_way_out():
    for terminal in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        assert not any(states.can_transition(terminal, target) for target in STATUSES)


@pytest.mark.parametrize("pair", TRANSITIONS, ids=pair_id)
def test_an_allowed_transition_writes_the_status_and_one_event(node, pair):
    current, target = pair
    task = builders.task_in(current, on=node)
    events_before = TaskEvent.objects.filter(task=task).count()

    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        event = states.transition(locked, target, reason="Because", message="a test said so")

    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.status_reason, stored.status_message) == (target, "Because", "a test said so")
    assert TaskEvent.objects.filter(task=task).count() == events_before + 1
    written = TaskEvent.objects.filter(task=task).latest("id")
    assert written.pk == event.pk
    assert (written.from_status, written.to_status, written.reason, written.message) == (
        current, target, "Because", "a test said so")
    assert written.attempt == task.attempt
    assert invariant_violations() == []


@pytest.mark.parametrize("pair", TRANSITIONS, ids=pair_id)
def test_leaving_assigned_or_running_gives_the_reservation_back(node, pair):
    current, target = pair
    task = builders.task_in(current, on=node, cpu=1.5, mem=700)
    held = Node.objects.get(pk=node.pk)

    builders.moved(task, target)

    after = Node.objects.get(pk=node.pk)
    if current in (S.ASSIGNED, S.RUNNING) and target not in (S.ASSIGNED, S.RUNNING):
        assert (held.cpu_allocated, held.mem_allocated) == (1500, 700)
        assert (after.cpu_allocated, after.mem_allocated) == (0, 0)
        assert after.generation > held.generation
    else:
        assert (after.cpu_allocated, after.mem_allocated) == (held.cpu_allocated, held.mem_allocated)
    assert invariant_violations() == []


@pytest.mark.parametrize("pair", [p for p in FORBIDDEN if p[1] != S.ASSIGNED], ids=pair_id)
def test_a_forbidden_transition_raises_and_writes_nothing(node, pair):
    current, target = pair
    task = builders.task_in(current, on=node)
    before = snapshot(task)

    with transaction.atomic():  # commits: a partial write would stay visible below
        locked = Task.objects.select_for_update().get(pk=task.pk)
        with pytest.raises(InvalidTransition):
            states.transition(locked, target, reason="Nope", exit_code=9)
        assert locked.status == current

    assert snapshot(task) == before
    assert invariant_violations() == []


@pytest.mark.parametrize("current", [s for s in STATUSES if s != S.PENDING])
def test_only_a_pending_task_can_be_assigned(node, current):
    task = builders.task_in(current, on=node)
    before = snapshot(task)

    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        with pytest.raises(InvalidTransition):
            states.assign_many([(locked, node)])

    assert snapshot(task) == before


def test_assigned_is_reached_only_through_placement_not_transition(node):
    task = builders.task()
    before = snapshot(task)

    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        with pytest.raises(InvalidTransition):
            states.transition(locked, S.ASSIGNED, reason="Manual")

    assert snapshot(task) == before


def test_placement_assigns_the_next_attempt_with_one_event_naming_the_node(node):
    task = builders.task(cpu=2, mem=1024)

    place_pending_tasks()

    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.node_id, stored.node_name, stored.attempt) == (S.ASSIGNED, node.pk, "node-a", 1)
    event = TaskEvent.objects.filter(task=task).latest("id")
    assert (event.from_status, event.to_status, event.reason, event.node_id, event.attempt) == (
        S.PENDING, S.ASSIGNED, "Scheduled", node.pk, 1)
    assert (Node.objects.get(pk=node.pk).cpu_allocated, Node.objects.get(pk=node.pk).mem_allocated) == (2000, 1024)
    assert invariant_violations() == []


def test_back_to_pending_clears_the_node_and_the_next_placement_is_a_new_attempt(node):
    running = builders.task_in(S.RUNNING, on=node)

    builders.moved(running, S.PENDING, reason="NodeLost")

    requeued = Task.objects.get(pk=running.pk)
    assert (requeued.node_id, requeued.node_name, requeued.started_at, requeued.attempt) == (None, "", None, 1)
    event = TaskEvent.objects.filter(task=running).latest("id")
    assert (event.node_id, event.node_name) == (node.pk, "node-a"), "the event keeps the node the task left"
    place_pending_tasks()
    assert Task.objects.get(pk=running.pk).attempt == 2
    assert invariant_violations() == []


@pytest.mark.parametrize("target", [S.SUCCEEDED, S.FAILED, S.CANCELLED])
def test_finishing_stamps_finished_at_and_keeps_the_exit_code(node, target):
    running = builders.task_in(S.RUNNING, on=node)

    builders.moved(running, target, exit_code=7)

    stored = Task.objects.get(pk=running.pk)
    assert stored.finished_at is not None and stored.finished_at >= stored.started_at
    assert stored.exit_code == 7


def test_starting_stamps_started_at(node):
    assigned = builders.task_in(S.ASSIGNED, on=node)

    builders.moved(assigned, S.RUNNING)

    assert Task.objects.get(pk=assigned.pk).started_at is not None


@pytest.mark.parametrize("current", [S.ASSIGNED, S.RUNNING])
def test_the_reservation_and_the_status_change_commit_or_roll_back_together(node, current):
    task = builders.task_in(current, on=node, cpu=1, mem=512)

    with pytest.raises(RuntimeError), transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        states.transition(locked, S.CANCELLED, reason="Cancelled")
        assert Node.objects.get(pk=node.pk).cpu_allocated == 0  # released inside the transaction
        raise RuntimeError("the caller fails after the transition")

    assert Task.objects.get(pk=task.pk).status == current
    assert (Node.objects.get(pk=node.pk).cpu_allocated, Node.objects.get(pk=node.pk).mem_allocated) == (1000, 512)
    assert invariant_violations() == []
