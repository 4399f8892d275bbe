"""GPU placement under contention (issue 19): threads and a second process place a queue of GPU
tasks on GPU nodes at once while tasks are cancelled under them. No device may ever be held by two
live attempts, no node may hold more GPUs than it has, and the books must balance (the invariant
checks devices too). Runs on PostgreSQL (row locks, SKIP LOCKED) and on SQLite."""

from __future__ import annotations

import random

import pytest
from django.db.models import Sum

from nodes.models import Node
from tasks.accounting import invariant_violations
from tasks.models import ACTIVE_STATUSES, Task, TaskStatus
from tasks.placement.reservation import place_pending_tasks
from tests import builders
from tests.tasks.test_placement_concurrency import DATABASES, on, placers_with_churn


def build_gpu_cluster(*, seed: int) -> None:
    """Six GPU nodes (1, 2 or 4 GPUs), two CPU-only ones; GPU demand about three times the GPUs."""
    rng = random.Random(seed)
    for i, gpus in enumerate((1, 2, 4, 1, 2, 4)):
        builders.node(f"gpu-{i}", cpu=16, mem=65536, gpus=gpus)
    for i in range(2):
        builders.node(f"cpu-{i}", cpu=4, mem=8192)
    for i in range(60):
        builders.task(name=f"g{i}", cpu=0.5, mem=256, gpu=rng.choice((1, 1, 1, 2, 4)))
    for i in range(20):
        builders.task(name=f"c{i}", cpu=0.5, mem=256)
    demand = Task.objects.aggregate(n=Sum("gpu"))["n"]
    assert demand > 2 * Node.objects.aggregate(n=Sum("gpu_capacity"))["n"]


def assert_devices_never_shared() -> None:
    assert invariant_violations() == []
    for node in Node.objects.all():
        assert node.gpu_allocated <= node.gpu_capacity, node.name
        held = [index for devices in Task.objects.filter(node=node, status__in=ACTIVE_STATUSES)
                .values_list("gpu_devices", flat=True) for index in devices]
        assert len(held) == len(set(held)) == node.gpu_allocated, (node.name, held)
        assert set(held) <= {device["index"] for device in node.gpu_devices}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("database", DATABASES)
def test_threads_placing_gpu_tasks_at_once_never_put_two_attempts_on_one_device(database):
    on(database)
    build_gpu_cluster(seed=19)
    # churn cancels assigned tasks and checks the invariant (devices too) as it goes
    results, churned = placers_with_churn(threads=4, churn_seed=5)

    assert sum(placed for placed, _ in results) > 0
    assert churned["problems"] == [] and churned["cancelled"] > 0
    assert_devices_never_shared()
    place_pending_tasks()
    assert_devices_never_shared()
    # the contention was real: GPU demand was left waiting
    assert Task.objects.filter(status=TaskStatus.PENDING, gpu__gt=0).exists()
