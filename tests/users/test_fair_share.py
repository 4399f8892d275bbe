"""Fair share (issue 17): an owner's recent usage (CPU-seconds, decayed with a half-life) is charged
when an attempt ends and decayed by the sweeper; among pending tasks of equal priority the owner
who used less goes first, on every store; a pending task says where it stands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import fairshare
from tasks.models import OwnerUsage, Task, TaskStatus
from tasks.placement import queue
from tasks.placement.reservation import place_pending_tasks
from tests import builders
from tests.conftest import make_user, token_client

pytestmark = pytest.mark.django_db


def test_an_ending_attempt_charges_its_cores_times_its_run_time_to_its_owner():
    alice = make_user("alice")
    builders.node("n1", cpu=4)
    task = builders.placed(builders.task(cpu=2, submitter=alice))
    start = timezone.now()
    builders.moved(task, TaskStatus.RUNNING, at=start)
    builders.moved(task, TaskStatus.SUCCEEDED, at=start + timedelta(seconds=10), exit_code=0)

    assert OwnerUsage.objects.get(user=alice).cpu_seconds == pytest.approx(20.0)
    second = builders.placed(builders.task(cpu=1, submitter=alice))
    builders.moved(second, TaskStatus.RUNNING, at=start)
    builders.moved(second, TaskStatus.PENDING, at=start + timedelta(seconds=5))  # a lost attempt counts too
    assert OwnerUsage.objects.get(user=alice).cpu_seconds == pytest.approx(25.0)


def test_the_sweeper_decays_usage_by_its_half_life(settings):
    settings.SCHEDULER_FAIR_SHARE_HALF_LIFE = 600
    alice = make_user("alice")
    now = timezone.now()
    OwnerUsage.objects.create(user=alice, cpu_seconds=100.0, decayed_at=now - timedelta(seconds=600))

    assert fairshare.decay_all(now) == 1
    row = OwnerUsage.objects.get(user=alice)
    assert row.cpu_seconds == pytest.approx(50.0) and row.decayed_at == now
    assert fairshare.decay_all(now) == 0, "decaying twice to the same moment changes nothing"
    assert fairshare.recent_usage(alice.pk, now + timedelta(seconds=1200)) == pytest.approx(12.5)


def test_equal_priority_the_owner_with_less_recent_usage_goes_first_priority_still_first():
    heavy, light = make_user("heavy"), make_user("light")
    OwnerUsage.objects.create(user=heavy, cpu_seconds=5000.0, decayed_at=timezone.now())
    OwnerUsage.objects.create(user=light, cpu_seconds=10.0, decayed_at=timezone.now())
    backlog = [builders.task(cpu=1, submitter=heavy) for _ in range(3)]
    late = builders.task(cpu=1, submitter=light)
    urgent = builders.task(cpu=1, submitter=heavy, priority=5)
    anonymous = builders.task(cpu=1)  # no owner: no usage

    order = list(queue.pending().values_list("pk", flat=True))

    assert order == [urgent.pk, anonymous.pk, late.pk, *(t.pk for t in backlog)]
    builders.node("n1", cpu=3)
    place_pending_tasks(batch_size=2)  # across batches: the cursor carries the fair-share key
    assert set(Task.objects.filter(status=TaskStatus.ASSIGNED).values_list("pk", flat=True)) == {
        urgent.pk, anonymous.pk, late.pk}


def test_a_pending_task_says_where_it_stands():
    alice = make_user("alice")
    OwnerUsage.objects.create(user=alice, cpu_seconds=120.0, decayed_at=timezone.now())
    first, second = builders.task(submitter=alice), builders.task(submitter=alice)

    detail = token_client(alice).get(f"/api/v1/tasks/{second.pk}").json()

    assert detail["queue"]["position"] == 2
    assert detail["queue"]["owner_recent_usage"] == pytest.approx(120.0, rel=0.01)
    assert detail["queue"]["text"] == "position 2 in the queue; its owner's recent usage 120 cpu-s"
    assert token_client(alice).get(f"/api/v1/tasks/{first.pk}").json()["queue"]["position"] == 1
