"""Placement under contention: many threads, and two separate processes, place the same queue at
once on a cluster with less capacity than demand, while tasks are cancelled under them. No node
may ever be over capacity, no task may be assigned twice, and the books must balance.

Runs on PostgreSQL (SKIP LOCKED claims, row locks) and on SQLite (serialized writers)."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count, Sum

from nodes.models import Node
from scheduler_site.exceptions import InvalidTransition
from tasks import services
from tasks.accounting import invariant_violations
from tasks.models import ACTIVE_STATUSES, Task, TaskEvent, TaskStatus
from tasks.placement.reservation import place_pending_tasks
from tests import builders, cluster, logguard
from tests.cluster import ROOT, wait_for

DATABASES = [pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("sqlite")]
NODE_SIZES = [(1, 2048), (2, 4096), (4, 8192), (8, 16384)]  # cores, MiB
TASK_SIZES = [(0.25, 256), (0.5, 512), (1, 1024), (1.5, 1024), (2, 3072)]
HAMMER_SECONDS = 1.5  # at least; churn also waits for MIN_CANCELLED cancellations under the placers
MIN_CANCELLED = 5


def on(database: str) -> None:
    if connection.vendor != database:
        pytest.skip(f"the {database} run covers this case")


def build_cluster(*, nodes: int, tasks: int, seed: int) -> None:
    """Mixed nodes and mixed tasks, demand about twice the capacity."""
    rng = random.Random(seed)
    for i in range(nodes):
        cpu, mem = NODE_SIZES[i % len(NODE_SIZES)]
        builders.node(f"node-{i:03d}", cpu=cpu, mem=mem)
    for i in range(tasks):
        cpu, mem = rng.choice(TASK_SIZES)
        builders.task(name=f"t{i}", cpu=cpu, mem=mem, priority=rng.choice((0, 0, 1, 5)))
    demand = Task.objects.aggregate(cpu=Sum("cpu"))["cpu"]
    capacity = Node.objects.aggregate(cpu=Sum("cpu_capacity"))["cpu"]
    assert demand > 1.5 * capacity, "the test needs more demand than capacity"


def place_until(stop: Callable[[], bool], *, seed: int) -> tuple[int, int]:
    """One placer: small random batches, so many transactions interleave, until `stop()`. Closes
    its own connection. Returns (placed, passes)."""
    rng = random.Random(seed)
    placed = passes = 0
    try:
        while not stop():
            placed += place_pending_tasks(batch_size=rng.randint(1, 12)).placed
            passes += 1
            time.sleep(rng.uniform(0, 0.01))  # as a master between nudges; lets SQLite's queued writers in
    finally:
        connections.close_all()
    return placed, passes


def churn(*, seed: int) -> dict:
    """While the placers run: cancel assigned tasks (capacity frees under them) and check the books.
    Runs HAMMER_SECONDS and until MIN_CANCELLED cancellations went through (a loaded machine may
    need longer), at most a minute."""
    rng = random.Random(seed)
    cancelled, problems, samples = 0, [], 0
    started = time.monotonic()
    while time.monotonic() - started < HAMMER_SECONDS or (cancelled < MIN_CANCELLED and
                                                          time.monotonic() - started < 60):
        assigned = list(Task.objects.filter(status=TaskStatus.ASSIGNED).values_list("pk", flat=True)[:50])
        if assigned:
            try:
                services.cancel_task(task_id=rng.choice(assigned))
                cancelled += 1
            except InvalidTransition:
                pass
        problems += invariant_violations()
        samples += 1
        time.sleep(0.02)
    return {"cancelled": cancelled, "problems": problems, "samples": samples}


def placers_with_churn(*, threads: int, churn_seed: int) -> tuple[list[tuple[int, int]], dict]:
    """`threads` placers start together and run while `churn` cancels under them; returns each
    placer's (placed, passes) and what churn saw."""
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()

    def placer(n: int) -> tuple[int, int]:
        barrier.wait(timeout=10)
        return place_until(stop.is_set, seed=n)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(placer, n) for n in range(threads)]
        try:
            barrier.wait(timeout=10)
            churned = churn(seed=churn_seed)
        finally:
            stop.set()
        return [future.result(timeout=60) for future in futures], churned  # re-raises a placer's error


def placer_process(ready_file: str, go_file: str, stop_file: str, threads: str) -> None:
    """Entry point of another master process (see `spawn_placer`): waits for the go file, places
    until the stop file appears, prints what it placed as JSON."""
    Path(ready_file).write_text("ready")
    wait_for(Path(go_file).exists, timeout=60, interval=0.005)
    stop = Path(stop_file).exists
    with ThreadPoolExecutor(int(threads)) as pool:
        counts = list(pool.map(lambda n: place_until(stop, seed=os.getpid() + n), range(int(threads))))
    print(json.dumps({"placed": sum(c[0] for c in counts), "passes": sum(c[1] for c in counts)}))


def spawn_placer(tmp_path: Path, name: str, *, threads: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": cluster.test_database_url(),
           "DJANGO_SETTINGS_MODULE": "scheduler_site.settings", "DJANGO_SECRET_KEY": settings.SECRET_KEY,
           "SCHEDULER_JOIN_TOKEN": settings.SCHEDULER_JOIN_TOKEN}
    code = ("import sys, django; django.setup(); "
            "from tests.tasks.test_placement_concurrency import placer_process; placer_process(*sys.argv[1:])")
    return subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / f"{name}.ready"), str(tmp_path / "go"), str(tmp_path / "stop"),
         str(threads)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def assert_books_and_attempts(*, placed_by_placers: int, churn: dict) -> None:
    """What must hold after any amount of contention."""
    assert churn["problems"] == [], "the books disagreed while placers ran"
    assert churn["samples"] > 0
    assert invariant_violations() == []
    for node in Node.objects.all():
        assert node.cpu_allocated <= node.cpu_capacity and node.mem_allocated <= node.mem_capacity, node.name
    held = {row["node_id"]: (row["cpu"], row["mem"]) for row in Task.objects.filter(status__in=ACTIVE_STATUSES)
            .values("node_id").annotate(cpu=Sum("cpu"), mem=Sum("mem"))}
    for node in Node.objects.all():
        assert (node.cpu_allocated, node.mem_allocated) == held.get(node.pk, (0, 0)), node.name

    # No task assigned twice: one Scheduled event per attempt, one attempt each (nothing was requeued).
    scheduled = TaskEvent.objects.filter(reason="Scheduled")
    duplicates = scheduled.values("task_id", "attempt").annotate(n=Count("id")).filter(n__gt=1)
    assert list(duplicates) == []
    per_task = Counter(scheduled.values_list("task_id", flat=True))
    for task in Task.objects.all():
        assert per_task[task.pk] == task.attempt <= 1, (task.pk, task.status, task.attempt, per_task[task.pk])
        if task.status in ACTIVE_STATUSES:
            assert task.attempt == 1 and task.node_id is not None
            assert scheduled.get(task=task).node_id == task.node_id
    assert placed_by_placers == scheduled.count(), "every placement a placer counted is exactly one event"

    # The contention was real: capacity ran out, tasks were cancelled under the placers.
    assert Task.objects.filter(status=TaskStatus.PENDING).exists()
    assert churn["cancelled"] >= MIN_CANCELLED


def assert_nothing_left_that_fits() -> None:
    """After a last quiet pass, no pending task fits on any node: no capacity leaked or was lost."""
    place_pending_tasks()
    # The head of the queue holds the node where it fits soonest (tasks/placement/starvation.py):
    # later tasks are not placed there, whatever they would fit.
    pending = list(Task.objects.filter(status=TaskStatus.PENDING))
    reserved = {m.group(1) for t in pending if (m := re.search(r"Node (\S+) is reserved for it", t.status_message))}
    nodes = list(Node.objects.exclude(name__in=reserved)
                 .values_list("cpu_capacity", "cpu_allocated", "mem_capacity", "mem_allocated"))
    for task in pending:
        fits = [cc - ca >= task.cpu and mc - ma >= task.mem for cc, ca, mc, ma in nodes]
        assert not any(fits), f"{task} fits but stayed pending: {task.status_message}"
    assert invariant_violations() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("database", DATABASES)
def test_many_threads_placing_at_once_never_oversubscribe_or_assign_twice(database):
    on(database)
    build_cluster(nodes=12, tasks=120, seed=7)
    results, churned = placers_with_churn(threads=6, churn_seed=99)

    placed = sum(n for n, _ in results)
    assert placed > 0 and all(passes > 0 for _, passes in results), results
    assert_books_and_attempts(placed_by_placers=placed, churn=churned)
    assert_nothing_left_that_fits()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("database", DATABASES)
def test_two_processes_placing_at_once_never_oversubscribe_or_assign_twice(database, tmp_path):
    on(database)
    build_cluster(nodes=12, tasks=120, seed=11)
    processes = [spawn_placer(tmp_path, name, threads=2) for name in ("master-1", "master-2")]
    try:
        wait_for(lambda: all((tmp_path / f"{name}.ready").exists() for name in ("master-1", "master-2"))
                 or any(p.poll() is not None for p in processes), timeout=60, what="both placer processes ready")
        (tmp_path / "go").touch()
        try:
            churned = churn(seed=13)
        finally:
            (tmp_path / "stop").touch()
        outputs = [p.communicate(timeout=60) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)

    for p, (_, err) in zip(processes, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    logguard.check({name: err for name, (_, err) in zip(("master-1", "master-2"), outputs, strict=True)})
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    # Both ran passes in the same window (on SQLite one may find nothing left to place: writers queue).
    assert all(r["passes"] > 0 for r in results) and sum(r["placed"] for r in results) > 0, results
    assert_books_and_attempts(placed_by_placers=sum(r["placed"] for r in results), churn=churned)
    assert_nothing_left_that_fits()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_task_row_held_by_another_transaction_is_counted_for_a_retry_then_placed():
    """SKIP LOCKED passes over a task an agent's report (or a cancel) holds at that instant;
    the pass says so, so the placement loop comes back for it instead of leaving it PENDING."""
    on("postgresql")
    builders.node("n1", cpu=2, mem=2048)
    task = builders.task(cpu=1, mem=256)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Task.objects.select_for_update().get(pk=task.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(10)
    try:
        report = place_pending_tasks()
        assert (report.placed, report.skipped_locked) == (0, 1)
    finally:
        release.set()
        holder.join(10)
    report = place_pending_tasks()
    assert (report.placed, report.skipped_locked) == (1, 0)
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
