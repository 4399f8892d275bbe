"""GPUs as an entry of the resource vector (issue 19): the "Insufficient gpu" filter, the Best Fit
score per dimension with GPU nodes kept for GPU work, and (against the database) device pinning:
two live attempts never share a device, a device comes free with its task, requeue forgets it.
The pure part uses NodeTables; the rest runs the real placement pass."""

from __future__ import annotations

import pytest
from django.db import transaction

from nodes.models import Node
from nodes.services import register_node
from tasks import devices, services
from tasks.accounting import invariant_violations
from tasks.models import Task, TaskStatus
from tasks.placement import filters, scorers
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest
from tasks.placement.pipeline import choose
from tasks.placement.reservation import place_pending_tasks
from tasks.recovery import take_node_offline
from tests import builders

S = TaskStatus


def view(name: str, node_id: int, *, cpu: int = 4000, mem: int = 8192, gpus: int = 0, used_gpus: int = 0,
         used_cpu: int = 0) -> NodeView:
    return NodeView(id=node_id, name=name, cpu_capacity=cpu, mem_capacity=mem, cpu_allocated=used_cpu,
                    gpu_capacity=gpus, gpu_allocated=used_gpus)


def chosen(nodes: NodeTable, request: TaskRequest, **kwargs) -> str | None:
    decision = choose(nodes, request, **kwargs)
    return None if decision.index is None else nodes.names[decision.index]


# -- pure: filter and scores ----------------------------------------------------------------------


def test_the_gpu_filter_keeps_nodes_with_enough_free_gpus():
    nodes = NodeTable([view("a-none", 1), view("b-one-free", 2, gpus=2, used_gpus=1), view("c-two", 3, gpus=2)])

    mask = filters.gpu_fits(nodes, TaskRequest(cpu=100, mem=64, gpu=2))

    assert dict(zip(nodes.names, mask.tolist(), strict=True)) == {"a-none": False, "b-one-free": False,
                                                                  "c-two": True}


def test_a_gpu_task_that_fits_nowhere_says_insufficient_gpu():
    nodes = NodeTable([view("a-none", 1), view("b-full", 2, gpus=1, used_gpus=1)])

    decision = choose(nodes, TaskRequest(cpu=100, mem=64, gpu=1))

    assert decision.index is None
    assert decision.explain() == "0/2 nodes are available: 2 Insufficient gpu."


def test_a_node_without_gpus_is_never_chosen_for_a_gpu_task_however_well_it_fits():
    nodes = NodeTable([view("a-cpu-tight", 1, cpu=1000, mem=512), view("b-gpu-roomy", 2, cpu=64000, mem=262144,
                                                                       gpus=8)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=512, gpu=1)) == "b-gpu-roomy"
    assert chosen(nodes, TaskRequest(cpu=1000, mem=512, gpu=1), scorer=scorers.worst_fit) == "b-gpu-roomy"


@pytest.mark.parametrize("scorer", [scorers.best_fit, scorers.worst_fit])
def test_a_cpu_task_prefers_a_node_without_free_gpus_even_when_the_gpu_node_fits_tighter(scorer):
    # The GPU node is almost full of CPU work: plain Best Fit would pack the task there.
    nodes = NodeTable([view("a-gpu", 1, cpu=4000, gpus=2, used_cpu=3000), view("b-cpu", 2, cpu=16000)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=256), scorer=scorer) == "b-cpu"
    penalty = scorers.idle_scarce_penalty(nodes, TaskRequest(cpu=1000, mem=256))
    assert penalty.tolist() == [scorers.SCARCE_PENALTY, 0.0]


def test_a_cpu_task_goes_to_a_gpu_node_when_nothing_else_fits():
    nodes = NodeTable([view("a-gpu", 1, gpus=2), view("b-cpu-full", 2, cpu=1000, used_cpu=1000)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=256)) == "a-gpu"


def test_a_gpu_node_whose_gpus_are_all_taken_is_not_kept_free_for_gpu_work():
    # Nothing left to protect on a-gpu-busy: Best Fit decides as for any node (a is the tighter fit).
    nodes = NodeTable([view("a-gpu-busy", 1, cpu=2000, gpus=1, used_gpus=1), view("b-cpu", 2, cpu=16000)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=256)) == "a-gpu-busy"


def test_the_score_averages_over_the_resources_a_node_has():
    nodes = NodeTable([view("a-cpu", 1, cpu=4000, mem=8192), view("b-gpu", 2, cpu=4000, mem=8192, gpus=4)])

    # A CPU task: a has two dimensions (cpu 3/4, mem 3/4 left), not a third "0 of 0 GPUs"; b three.
    assert scorers.normalized_leftover(nodes, TaskRequest(cpu=1000, mem=2048)).tolist() == \
        pytest.approx([0.75, (0.75 + 0.75 + 1.0) / 3])
    # A GPU task (only b is feasible): cpu 3/4, mem 3/4, gpu 3/4.
    assert scorers.normalized_leftover(nodes, TaskRequest(cpu=1000, mem=2048, gpu=1))[1] == pytest.approx(0.75)


def test_requests_differing_only_in_gpus_are_different_shapes():
    assert TaskRequest(cpu=1, mem=1, gpu=1).shape() != TaskRequest(cpu=1, mem=1).shape()


# -- against the database -------------------------------------------------------------------------


@pytest.fixture
def books_balance(db):
    yield
    assert invariant_violations() == [], "allocated must equal the sums, no device held twice"


def fresh(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


@pytest.mark.usefixtures("books_balance")
def test_two_one_gpu_tasks_get_different_devices_and_a_third_waits_with_insufficient_gpu():
    node = builders.node("gpu-box", cpu=8, gpus=2)
    tasks = [builders.task(f"t{i}", cpu=1, gpu=1) for i in range(3)]

    place_pending_tasks()

    first, second, third = (fresh(t) for t in tasks)
    assert (first.status, second.status) == (S.ASSIGNED, S.ASSIGNED)
    assert sorted(first.gpu_devices + second.gpu_devices) == [0, 1]
    assert third.status == S.PENDING
    assert third.status_message.startswith("0/1 nodes are available: 1 Insufficient gpu.")  # + reservation note
    stored = Node.objects.get(pk=node.pk)
    assert (stored.gpu_capacity, stored.gpu_allocated) == (2, 2)


@pytest.mark.usefixtures("books_balance")
def test_a_finished_task_frees_its_device_for_the_next_one():
    builders.node("gpu-box", cpu=8, gpus=2)
    holder, other = builders.placed(builders.task(gpu=1)), builders.placed(builders.task(gpu=1))
    waiting = builders.task(gpu=1)
    place_pending_tasks()
    assert fresh(waiting).status == S.PENDING

    builders.moved(builders.moved(holder, S.RUNNING), S.SUCCEEDED, exit_code=0)
    place_pending_tasks()

    assert fresh(waiting).status == S.ASSIGNED
    assert fresh(waiting).gpu_devices == holder.gpu_devices != other.gpu_devices
    assert fresh(holder).gpu_devices == holder.gpu_devices  # kept on the finished task: what it ran on


@pytest.mark.usefixtures("books_balance")
def test_a_multi_gpu_task_gets_as_many_distinct_devices_and_a_cpu_task_none():
    builders.node("gpu-box", cpu=8, gpus=4)
    big, cpu_only, small = builders.task(gpu=3), builders.task(), builders.task(gpu=1)

    place_pending_tasks()

    assert len(set(fresh(big).gpu_devices)) == 3
    assert fresh(cpu_only).gpu_devices == []
    assert sorted(fresh(big).gpu_devices + fresh(small).gpu_devices) == [0, 1, 2, 3]


@pytest.mark.usefixtures("books_balance")
def test_a_node_lost_with_a_gpu_task_requeues_it_frees_the_device_and_the_next_attempt_gets_one():
    lost = builders.node("gpu-lost", cpu=8, gpus=1)
    task = builders.placed(builders.task(gpu=1))
    assert task.node_id == lost.pk and task.gpu_devices == [0]
    builders.age_heartbeat(lost, 3600)

    take_node_offline(lost.pk)

    requeued = fresh(task)
    assert (requeued.status, requeued.gpu_devices) == (S.PENDING, [])
    stored = Node.objects.get(pk=lost.pk)
    assert stored.gpu_allocated == 0
    builders.node("gpu-new", cpu=8, gpus=2)
    again = builders.placed(requeued)
    assert (again.node_name, again.attempt, len(again.gpu_devices)) == ("gpu-new", 2, 1)


@pytest.mark.usefixtures("books_balance")
def test_a_cancelled_gpu_task_gives_back_count_and_device():
    node = builders.node("gpu-box", cpu=8, gpus=1)
    task = builders.placed(builders.task(gpu=1))

    services.cancel_task(task_id=task.pk)

    assert Node.objects.get(pk=node.pk).gpu_allocated == 0
    assert devices.held_devices([node.pk]) == {}


@pytest.mark.usefixtures("books_balance")
def test_a_rerun_asks_for_the_same_gpus():
    builders.node("gpu-box", cpu=8, gpus=2)
    task = builders.placed(builders.task(gpu=2))
    builders.moved(builders.moved(task, S.RUNNING), S.SUCCEEDED, exit_code=0)

    rerun = services.rerun_task(task_id=task.pk)

    assert rerun.gpu == 2


@pytest.mark.usefixtures("books_balance")
def test_a_node_rejoining_without_a_held_device_hands_out_only_the_devices_it_now_has():
    node, token = builders.node_with_token("gpu-box", cpu=8, gpus=2)
    holder = builders.placed(builders.task(gpu=1))
    kept = [device for device in builders.gpu_devices(2) if device["index"] not in holder.gpu_devices]

    # The agent comes back declaring only the device the running task does NOT hold.
    register_node(name="gpu-box", cpu=8000, mem=8192, labels={}, agent_info={}, node_token=token, gpus=kept)
    assert Node.objects.get(pk=node.pk).gpu_capacity == 1  # never below what tasks hold
    waiting = builders.task(gpu=1)
    place_pending_tasks()
    assert fresh(waiting).status == S.PENDING

    builders.moved(builders.moved(holder, S.RUNNING), S.SUCCEEDED, exit_code=0)
    place_pending_tasks()

    assert fresh(waiting).gpu_devices == [kept[0]["index"]]


def test_pick_refuses_a_share_its_free_devices_cannot_cover(db):
    """The count filter and the devices agree by construction; should they ever not, the node's
    share goes back to the queue rather than two attempts sharing a device."""
    node = builders.node("gpu-box", cpu=8, gpus=2)
    holder = builders.placed(builders.task(gpu=1))
    node = Node.objects.get(pk=node.pk)
    node.gpu_devices = [device for device in node.gpu_devices if device["index"] in holder.gpu_devices]
    planned = builders.task(gpu=1)

    picks, short = devices.pick({node.pk: node}, {node.pk: [planned]})

    assert (picks, short) == ({}, {node.pk})


def test_the_invariant_names_a_device_held_twice(db):
    node = builders.node("gpu-box", cpu=8, gpus=2)
    first, second = builders.placed(builders.task(gpu=1)), builders.placed(builders.task(gpu=1))
    with transaction.atomic():
        Task.objects.filter(pk=second.pk).update(gpu_devices=first.gpu_devices)

    problems = invariant_violations()

    assert problems == [f"node {node.pk}: device {first.gpu_devices[0]} held by tasks {first.pk} and {second.pk}"]
    Task.objects.filter(pk=second.pk).update(gpu_devices=second.gpu_devices)
    assert invariant_violations() == []
