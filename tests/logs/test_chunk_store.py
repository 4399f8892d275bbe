"""The chunk store: resent chunks are no-ops, stale attempts are refused, the per-task cap holds
and says so in the log itself, and retention prunes old logs of finished tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tasks.logs.store import IncomingChunk, store_chunks
from tasks.models import LogChunk, Task
from tasks.placement.reservation import place_pending_tasks
from tasks.services import requeue_task
from tests import builders

pytestmark = pytest.mark.django_db


def chunk(task: Task, seq: int, data: str = "x\n", *, attempt: int | None = None, stream: str = "stdout"):
    return IncomingChunk(task=task.pk, attempt=attempt or task.attempt, seq=seq, stream=stream, data=data, ts=1.0)


@pytest.fixture
def placed():
    node = builders.node("n1")
    task = builders.task("echo", cpu=1, mem=64)
    place_pending_tasks()
    task.refresh_from_db()
    return node, task


def test_a_resent_chunk_is_acknowledged_and_changes_nothing(placed):
    node, task = placed
    acked, stale = store_chunks(node.pk, [chunk(task, 0, "first\n"), chunk(task, 1, "second\n")])
    assert (acked, stale) == ([(task.pk, 1, 0), (task.pk, 1, 1)], [])
    acked, stale = store_chunks(node.pk, [chunk(task, 1, "DIFFERENT\n"), chunk(task, 2, "third\n")])
    assert acked == [(task.pk, 1, 1), (task.pk, 1, 2)]
    assert list(LogChunk.objects.order_by("seq").values_list("data", flat=True)) == ["first\n", "second\n", "third\n"]
    task.refresh_from_db()
    assert task.log_bytes == len("first\nsecond\nthird\n")


def test_chunks_for_a_stale_attempt_or_from_another_node_are_refused(placed):
    _, task = placed
    other = builders.node("n2")
    assert store_chunks(other.pk, [chunk(task, 0)]) == ([], [(task.pk, 1)])
    requeue_task(task_id=task.pk, by="test")
    place_pending_tasks()
    task.refresh_from_db()
    assert task.attempt == 2
    acked, stale = store_chunks(task.node_id, [chunk(task, 0, "late\n", attempt=1), chunk(task, 0, "new\n")])
    assert stale == [(task.pk, 1)] and acked == [(task.pk, 2, 0)]
    assert list(LogChunk.objects.values_list("attempt", "data")) == [(2, "new\n")]


def test_the_per_task_cap_stops_storing_and_says_so(placed, settings):
    node, task = placed
    settings.SCHEDULER_LOG_MAX_BYTES_PER_TASK = 10
    store_chunks(node.pk, [chunk(task, 0, "12345\n"), chunk(task, 1, "67890\n"), chunk(task, 2, "more\n")])
    rows = list(LogChunk.objects.order_by("seq").values_list("seq", "data"))
    assert rows[0] == (0, "12345\n")
    assert "log cap of 10 bytes reached" in rows[1][1] and rows[2] == (2, "")
    task.refresh_from_db()
    assert (task.log_bytes, task.log_bytes_dropped) == (6, 11)


def test_nul_bytes_are_kept_visible_not_fatal(placed):
    node, task = placed
    store_chunks(node.pk, [chunk(task, 0, "a\x00b\n")])
    assert LogChunk.objects.get().data == "a\ufffdb\n"


def test_prunelogs_removes_old_logs_of_finished_tasks_only(placed, settings):
    node, task = placed
    store_chunks(node.pk, [chunk(task, 0)])
    running_task = task
    finished = builders.task("true", cpu=1, mem=64)
    place_pending_tasks()
    finished.refresh_from_db()
    store_chunks(finished.node_id, [chunk(finished, 0)])
    Task.objects.filter(pk=finished.pk).update(status="SUCCEEDED", finished_at=timezone.now() - timedelta(days=8))
    settings.SCHEDULER_LOG_RETENTION_DAYS = 7
    call_command("prunelogs")
    assert list(LogChunk.objects.values_list("task_id", flat=True)) == [running_task.pk]
    finished.refresh_from_db()
    assert finished.log_bytes == 0
