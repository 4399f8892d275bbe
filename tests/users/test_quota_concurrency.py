"""Quotas hold under concurrent submits and placement passes (issue 17): several threads, each with
its own database connection as separate masters would have, submit and place at once while others
cancel; a user quota and a group quota are never exceeded, at any sample or at the end. On
PostgreSQL this is what the quota row locks are for (SKIP LOCKED lets passes run side by side);
SQLite serializes writers."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.db.models import Sum

from scheduler_site.exceptions import InvalidTransition
from tasks import services
from tasks.accounting import invariant_violations
from tasks.models import ACTIVE_STATUSES, Quota, Task
from tasks.placement.reservation import place_pending_tasks
from tests import builders
from tests.conftest import make_user

DATABASES = [pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("sqlite")]
USER_CPU, GROUP_CPU = 2000, 3000  # millicores
SUBMITS = 40


def in_use(*users) -> int:
    return Task.objects.filter(status__in=ACTIVE_STATUSES, submitter__in=users).aggregate(c=Sum("cpu"))["c"] or 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("database", DATABASES)
def test_user_and_group_quotas_hold_under_concurrent_submits_and_passes(transactional_db, database):
    from django.db import connection

    if connection.vendor != database:
        pytest.skip(f"the {database} run covers this case")
    team = Group.objects.create(name="physics")
    alice, bob = make_user("alice", "tasks.add_task"), make_user("bob", "tasks.add_task")
    team.user_set.add(alice, bob)
    Quota.objects.create(user=alice, limits={"cpu": USER_CPU / 1000})
    Quota.objects.create(group=team, limits={"cpu": GROUP_CPU / 1000})
    for i in range(4):
        builders.node(f"n{i}", cpu=4)
    stop = threading.Event()
    worst = {"alice": 0, "team": 0}
    errors: list[BaseException] = []

    def guarded(work):
        def run(seed: int):
            rng = random.Random(seed)
            try:
                while not stop.is_set():
                    work(rng)
                    time.sleep(rng.uniform(0, 0.005))
            except BaseException as error:
                errors.append(error)
            finally:
                connections.close_all()
        return run

    @guarded
    def submitter(rng):
        services.submit_task(command="true", cpu=rng.choice((500, 1000)), mem=64, submitter=rng.choice((alice, bob)))

    @guarded
    def placer(rng):
        place_pending_tasks(batch_size=rng.randint(1, 3))

    @guarded
    def canceller(rng):
        active = list(Task.objects.filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True)[:20])
        if active:
            try:
                services.cancel_task(task_id=rng.choice(active))
            except InvalidTransition:
                pass

    @guarded
    def sampler(rng):
        worst["alice"] = max(worst["alice"], in_use(alice))
        worst["team"] = max(worst["team"], in_use(alice, bob))

    if database == "postgresql":
        workers = [submitter, submitter, *[placer] * 6, canceller, canceller, sampler]
    else:  # one writer at a time anyway: fewer threads, or they mostly wait for the lock
        workers = [submitter, placer, placer, canceller, sampler]
    with ThreadPoolExecutor(len(workers)) as pool:
        futures = [pool.submit(work, seed) for seed, work in enumerate(workers)]
        deadline = time.monotonic() + 90  # a loaded machine: enough submits, not a fixed time
        while time.monotonic() < deadline and Task.objects.count() < SUBMITS and not errors:
            time.sleep(0.1)
        stop.set()
        for future in futures:
            future.result(timeout=120)

    assert not errors, errors
    assert Task.objects.count() >= SUBMITS, "the test needs a real race"
    assert worst["alice"] <= USER_CPU and worst["team"] <= GROUP_CPU, worst
    for owner in (alice, bob) * 4:  # more than the quotas allow: they fill up exactly, not more
        builders.task(cpu=0.5, submitter=owner)
    place_pending_tasks()
    assert in_use(alice) <= USER_CPU and in_use(alice, bob) == GROUP_CPU
    assert invariant_violations() == []


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_a_second_master_waits_for_the_first_ones_quota_decision(transactional_db, monkeypatch):
    """Deterministic form of the race: master A has admitted alice's task under her quota and not
    committed yet; master B, placing alice's other task meanwhile, must wait for A's quota row lock
    and then see A's task in use (without the lock both would place: 2 cpu on a 1-cpu quota)."""
    from tasks import quotas

    alice = make_user("alice", "tasks.add_task")
    Quota.objects.create(user=alice, limits={"cpu": 1})
    builders.node("n1", cpu=4)
    builders.node("n2", cpu=4)
    first, second = builders.task(cpu=1, submitter=alice), builders.task(cpu=1, submitter=alice)
    admitted, go = threading.Event(), threading.Event()
    real_admit = quotas.admit

    def admit_then_pause(planned):
        answer = real_admit(planned)
        if threading.current_thread().name == "master-a":
            admitted.set()
            go.wait(timeout=10)
        return answer

    monkeypatch.setattr(quotas, "admit", admit_then_pause)
    from tasks.placement import holds
    monkeypatch.setattr(holds, "_holds", [holds.Hold(h.kind, h.check, admit_then_pause if h.admit else None)
                                          for h in holds._holds])

    def master(name: str):
        def run():
            try:
                place_pending_tasks(batch_size=1, max_passes=1)
            finally:
                connections.close_all()
        return threading.Thread(target=run, name=name)

    a, b = master("master-a"), master("master-b")
    a.start()
    assert admitted.wait(timeout=30)
    b.start()
    b.join(timeout=1.5)  # with the lock, B is still waiting for A's quota row
    go.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert not a.is_alive() and not b.is_alive()
    assert in_use(alice) == 1000
    assert sorted(Task.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == [
        "ASSIGNED", "PENDING"]
