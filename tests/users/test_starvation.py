"""No starvation and preemption (issue 17), steps of the one placement pass: the blocked head of
the queue gets the node where it fits soonest and lower tasks may not take it (backfill elsewhere
only); with SCHEDULER_PREEMPTION=1 it evicts strictly lower-priority tasks (by at least the gap),
the fewest and most recent, requeued without being charged an attempt."""

from __future__ import annotations

import pytest

from nodes.resources import RESOURCES
from tasks.models import Task, TaskEvent, TaskStatus
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest
from tasks.placement.reservation import place_pending_tasks
from tasks.placement.starvation import Victim, choose_victims
from tests import builders

pytestmark = pytest.mark.django_db
S = TaskStatus


def fresh(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


def test_small_low_priority_tasks_do_not_take_the_capacity_a_big_high_priority_task_waits_for():
    node = builders.node("n1", cpu=2)
    running = builders.task_in(S.RUNNING, on=node, cpu=1)
    big = builders.task(cpu=2, priority=10)
    small = [builders.task(cpu=1, priority=-5) for _ in range(3)]

    place_pending_tasks()

    assert fresh(big).status == S.PENDING
    assert fresh(big).status_message.endswith("Node n1 is reserved for it.")
    assert [fresh(t).status for t in small] == [S.PENDING] * 3, "a small task took the big one's node"
    builders.moved(running, S.SUCCEEDED, exit_code=0)
    place_pending_tasks()
    assert fresh(big).status == S.ASSIGNED


def test_backfill_goes_to_the_other_nodes():
    n1 = builders.node("n1", cpu=2)
    builders.task_in(S.RUNNING, on=n1, cpu=1)
    builders.node("n2", cpu=1)
    big = builders.task(cpu=2, priority=10)
    small = builders.task(cpu=1, priority=-5)

    place_pending_tasks()

    assert fresh(big).status == S.PENDING
    assert fresh(small).status == S.ASSIGNED and fresh(small).node_name == "n2"


def test_a_task_that_fits_no_node_even_empty_reserves_nothing():
    builders.node("n1", cpu=2)
    huge = builders.task(cpu=64, priority=10)
    small = builders.task(cpu=1)

    place_pending_tasks()

    assert fresh(huge).status == S.PENDING and "reserved" not in fresh(huge).status_message
    assert fresh(small).status == S.ASSIGNED


def table(*nodes: tuple[int, str, int, int]) -> NodeTable:
    return NodeTable([NodeView(id=i, name=name, cpu_capacity=cap, mem_capacity=8192, cpu_allocated=alloc)
                      for i, name, cap, alloc in nodes])


def victim(task_id: int, node_id: int, priority: int, started: float, cpu: int = 1000) -> Victim:
    amounts = (cpu, *(0,) * (len(RESOURCES) - 1))  # cpu, then nothing of the vector's other entries
    return Victim(id=task_id, node_id=node_id, priority=priority, started=started, amounts=amounts)


def test_victims_are_the_fewest_then_lowest_priority_then_most_recently_started():
    nodes = table((1, "a", 4000, 4000), (2, "b", 4000, 4000))
    request = TaskRequest(cpu=2000, mem=100)
    candidates = [
        victim(1, 1, 0, 100.0), victim(2, 1, 0, 200.0), victim(3, 1, 0, 300.0), victim(4, 1, 0, 400.0),
        victim(5, 2, -1, 100.0, cpu=2000), victim(6, 2, -5, 50.0, cpu=2000),
    ]
    assert [v.id for v in choose_victims(nodes, request, candidates)] == [6]  # one victim beats two
    same_count = [victim(1, 1, 0, 100.0), victim(2, 1, 0, 200.0), victim(3, 1, 0, 300.0), victim(4, 1, 0, 400.0)]
    assert sorted(v.id for v in choose_victims(nodes, request, same_count)) == [3, 4]  # most recent
    assert choose_victims(nodes, TaskRequest(cpu=8000, mem=1), same_count) == []  # cannot fit at all


@pytest.fixture
def full_node():
    node = builders.node("n1", cpu=2)
    old = builders.task_in(S.RUNNING, on=node, cpu=1, priority=0, max_attempts=1)
    new = builders.task_in(S.RUNNING, on=node, cpu=1, priority=1, max_attempts=1)
    return node, old, new


def test_preemption_is_off_by_default(full_node):
    _, old, new = full_node
    urgent = builders.task(cpu=1, priority=100)
    place_pending_tasks()
    assert fresh(urgent).status == S.PENDING
    assert {fresh(old).status, fresh(new).status} == {S.RUNNING}


def test_preemption_evicts_the_least_work_requeues_it_uncharged_and_says_by_which_task(settings, full_node):
    settings.SCHEDULER_PREEMPTION = True
    _, old, new = full_node
    urgent = builders.task(cpu=1, priority=100)

    report = place_pending_tasks()

    assert report.preempted == 1
    evicted = fresh(old)  # the lowest priority goes first
    assert evicted.status == S.PENDING and fresh(new).status == S.RUNNING
    assert evicted.attempts_uncharged == 1, "a preempted attempt counts against nothing (max_attempts=1)"
    event = TaskEvent.objects.filter(task=evicted, reason="Preempted").get()
    assert event.from_status == S.RUNNING and f"Preempted by task {urgent.pk}" in event.message
    place_pending_tasks()
    assert fresh(urgent).status == S.ASSIGNED and fresh(urgent).node_name == "n1"
    assert fresh(old).status == S.PENDING  # it waits its turn, below the urgent task


def test_preemption_needs_a_strictly_lower_priority_by_the_gap(settings, full_node):
    settings.SCHEDULER_PREEMPTION = True
    settings.SCHEDULER_PREEMPTION_GAP = 5
    _, old, new = full_node
    peer = builders.task(cpu=1, priority=4)  # 4 - 0 < 5: may not evict
    place_pending_tasks()
    assert fresh(peer).status == S.PENDING
    assert {fresh(old).status, fresh(new).status} == {S.RUNNING}
