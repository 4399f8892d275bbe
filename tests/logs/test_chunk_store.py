"""The chunk store: resent chunks are no-ops, stale attempts are refused, the per-task cap holds
and says so in the log itself, and retention prunes old logs of finished tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from scheduler_site import metrics
from tasks.logs.store import IncomingChunk, store_chunks
from tasks.models import LogChunk, Task
from tasks.placement.reservation import place_pending_tasks
from tasks.services import requeue_task
from tests import builders

pytestmark = pytest.mark.django_db


def chunk(task: Task, seq: int, data: str | bytes = "x\n", *, attempt: int | None = None, stream: str = "stdout",
          cont: bool = False):
    data = data.encode() if isinstance(data, str) else data
    return IncomingChunk(task=task.pk, attempt=attempt or task.attempt, seq=seq, stream=stream, data=data, ts=1.0,
                         cont=cont)


def stored(*fields: str) -> list:
    return [tuple(bytes(v) if isinstance(v, bytes | memoryview) else v for v in row)
            for row in LogChunk.objects.order_by("attempt", "seq").values_list(*fields)]


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
    assert stored("data") == [(b"first\n",), (b"second\n",), (b"third\n",)]
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
    assert stored("attempt", "data") == [(2, b"new\n")]


def test_the_per_task_cap_stops_storing_and_says_so(placed, settings):
    node, task = placed
    settings.SCHEDULER_LOG_MAX_BYTES_PER_TASK = 10
    store_chunks(node.pk, [chunk(task, 0, "12345\n"), chunk(task, 1, "67890\n"), chunk(task, 2, "more\n")])
    rows = stored("seq", "data")
    assert rows[0] == (0, b"12345\n")
    assert b"log cap of 10 bytes reached" in rows[1][1] and rows[2] == (2, b"")
    task.refresh_from_db()
    assert (task.log_bytes, task.log_bytes_dropped) == (6, 11)


def test_any_bytes_are_stored_exactly(placed):
    node, task = placed
    payload = bytes(range(256)) + b"a\x00b\xff\xfe\n" + "\u00e9".encode()[:1]
    store_chunks(node.pk, [chunk(task, 0, payload)])
    assert stored("data") == [(payload,)]
    task.refresh_from_db()
    assert task.log_bytes == len(payload)


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


def test_lines_are_numbered_across_streams_and_continued_lines(placed):
    node, task = placed
    store_chunks(node.pk, [
        chunk(task, 0, "a\nb\npartial"), chunk(task, 1, "err\n", stream="stderr"),
        chunk(task, 2, " rest\nc\n", cont=True), chunk(task, 3, "open", stream="stderr"),
    ])
    assert stored("seq", "line", "lines") == [(0, 0, 3), (1, 3, 1), (2, 4, 1), (3, 5, 1)]


def test_a_chunk_arriving_after_later_ones_renumbers_the_lines_after_it(placed):
    node, task = placed
    store_chunks(node.pk, [chunk(task, 0, "a\n"), chunk(task, 2, "c\nd\n"), chunk(task, 3, "e\n")])
    assert stored("seq", "line") == [(0, 0), (2, 1), (3, 3)]
    store_chunks(node.pk, [chunk(task, 1, "b1\nb2\nb3\n")])
    assert stored("seq", "line", "lines") == [(0, 0, 1), (1, 1, 3), (2, 4, 2), (3, 6, 1)]


def test_a_gap_or_a_refused_chunk_is_stored_as_a_marker_and_counted(placed):
    node, task = placed
    before = metrics.LOG_GAP_BYTES.labels(source="master")._value.get()
    refused = IncomingChunk(task=task.pk, attempt=1, seq=1, stream="stderr", data=b"", ts=None, gap=99,
                            refused="b64 is not valid base64")
    gap = IncomingChunk(task=task.pk, attempt=1, seq=2, stream="stderr", data=b"", ts=5.0, gap=70000)
    acked, _ = store_chunks(node.pk, [chunk(task, 0, "before\n"), refused, gap])
    assert acked == [(task.pk, 1, 0), (task.pk, 1, 1), (task.pk, 1, 2)]
    rows = stored("seq", "gap", "data")
    assert rows[1][:2] == (1, 99) and b"99 bytes of output lost here: the master refused it" in rows[1][2]
    assert rows[2][:2] == (2, 70000) and b"70000 bytes of output lost here" in rows[2][2]
    assert metrics.LOG_GAP_BYTES.labels(source="master")._value.get() == before + 99
