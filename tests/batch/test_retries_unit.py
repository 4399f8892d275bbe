"""Retries (`tasks.batch.retries`, `tasks.recovery.requeue`'s charges): the backoff formula, which
failures retry, and which budget each kind of requeue spends."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from scheduler_site.statuses import TaskStatus, WaitReason
from tasks import recovery
from tasks.batch import holds, retries
from tasks.models import Task
from tests import builders

S = TaskStatus


@pytest.mark.parametrize(("retry", "ideal"), [(1, 10), (2, 20), (3, 40), (4, 80), (7, 600), (60, 600)])
def test_the_kth_retry_waits_base_times_two_to_the_k_minus_one_capped(retry, ideal):
    assert retries.backoff_seconds(retry, base=10, cap=600, rand=lambda: 0.0) == ideal
    # the jitter takes off at most 10 %, never adds (the cap holds)
    assert retries.backoff_seconds(retry, base=10, cap=600, rand=lambda: 0.999999) == pytest.approx(ideal * 0.9,
                                                                                                   rel=1e-5)


def test_jitter_stays_within_ten_percent():
    waits = [retries.backoff_seconds(2, base=1, cap=600) for _ in range(500)]
    assert all(1.8 <= wait <= 2.0 for wait in waits)
    assert len(set(waits)) > 1


def test_zero_backoff_retries_at_once():
    assert retries.backoff_seconds(3, base=0, cap=600) == 0


def _task(**fields) -> Task:
    return Task(command="x", cpu=1000, mem=1, **fields)


@pytest.mark.parametrize(("fields", "code", "expected"), [
    ({"retries": 0}, 1, False),
    ({"retries": 2}, 1, True),
    ({"retries": 2, "retries_used": 2}, 1, False),
    ({"retries": 2, "retry_on_exit_codes": [3, 4]}, 3, True),
    ({"retries": 2, "retry_on_exit_codes": [3, 4]}, 1, False),
    ({"retries": 2, "retry_on_exit_codes": [3]}, None, False),
])
def test_which_failures_retry(fields, code, expected):
    assert retries.wants_retry(_task(**fields), exit_code=code) is expected


@pytest.fixture
def running(db):
    node = builders.node("node-a")

    def make(**fields) -> Task:
        task = builders.task_in(S.RUNNING, on=node, **fields)
        return Task.objects.get(pk=task.pk)
    return make


def _requeue(task: Task, **kwargs) -> Task:
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        recovery.requeue(locked, **kwargs)
    return Task.objects.get(pk=task.pk)


def test_a_retry_spends_one_retry_waits_its_backoff_and_says_why(running):
    task = running(retries=3, retry_backoff=20)
    before = timezone.now()
    after = _requeue(task, reason="Failed", message="", charge="retry", exit_code=3)
    assert after.status == S.PENDING and after.status_reason == WaitReason.BACKOFF
    assert (after.retries_used, after.lost_attempts) == (1, 0)
    wait = (after.not_before - before).total_seconds()
    assert 18 <= wait <= 20.5
    assert after.status_message.startswith("Retrying in ")
    assert after.status_message.endswith(" s after exit code 3 (retry 1 of 3).")
    assert holds.backoff([after]) == {after.pk: after.status_message}  # the hold keeps it, same text


def test_a_lost_attempt_counts_against_max_attempts_not_retries(running):
    task = running(retries=5, max_attempts=2)
    Task.objects.filter(pk=task.pk).update(retries_used=4)  # most retries spent: irrelevant to a lost node
    after = _requeue(task, reason="NodeLost", message="Node gone.")
    assert after.status == S.PENDING and (after.retries_used, after.lost_attempts) == (4, 1)
    assert "(1/2 lost)" in after.status_message


def test_lost_attempts_used_up_fail_the_task_even_with_retries_left(running):
    task = running(retries=5, max_attempts=1)
    after = _requeue(task, reason="NodeLost", message="Node gone.")
    assert after.status == S.FAILED and "No attempts left (1/1 lost)" in after.status_message


def test_an_uncharged_requeue_spends_nothing(running):
    task = running(retries=1, max_attempts=1)
    after = _requeue(task, reason="Preempted", message="Preempted.", charge="none")
    assert after.status == S.PENDING and (after.retries_used, after.lost_attempts) == (0, 0)


def test_a_task_waiting_out_its_backoff_is_not_placed_until_due(running):
    task = running(retries=1, retry_backoff=30)
    after = _requeue(task, reason="Failed", message="", charge="retry", exit_code=1)
    report = builders.place_pending_tasks()
    after.refresh_from_db()
    assert after.status == S.PENDING and report.held == 1
    assert retries.next_due() == after.not_before
    Task.objects.filter(pk=task.pk).update(not_before=timezone.now())  # comes due
    assert builders.placed(after).attempt == 2
