"""GET /api/v1/tasks/{id}/logs (chunks after a sequence number) and /logs/raw (the whole log as text)."""

from __future__ import annotations

import pytest

from tasks.logs.store import IncomingChunk, store_chunks
from tasks.models import Task, TaskStatus
from tests import builders

pytestmark = [
    pytest.mark.django_db,
    # The raw log streams from an async generator (served by Daphne); the sync test client drains it.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]


def write(task: Task, *lines: tuple[str, str], attempt: int = 1, first_seq: int = 0) -> None:
    """Store (stream, data) chunks for `task` as its node's agent would send them."""
    chunks = [
        IncomingChunk(task=task.pk, attempt=attempt, seq=first_seq + i, stream=stream, data=data.encode(),
                      ts=1000.0 + i)
        for i, (stream, data) in enumerate(lines)
    ]
    acked, stale = store_chunks(task.node_id, chunks)
    assert stale == [] and len(acked) == len(chunks)


def raw_text(response) -> str:
    return b"".join(response).decode()


@pytest.fixture
def running(db) -> Task:
    return builders.task_in(TaskStatus.RUNNING, on=builders.node("node-a"))


@pytest.mark.parametrize("suffix", ["/logs", "/logs/"])
def test_logs_returns_the_chunks_in_order_with_their_stream(api, running, suffix):
    write(running, ("stdout", "hello\n"), ("stderr", "oops\n"), ("stdout", "bye\n"))

    response = api.get(f"/api/v1/tasks/{running.pk}{suffix}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["task"], body["attempt"], body["attempts"], body["status"]) == (running.pk, 1, [1], "RUNNING")
    assert [(c["seq"], c["stream"], c["data"]) for c in body["chunks"]] == [
        (0, "stdout", "hello\n"), (1, "stderr", "oops\n"), (2, "stdout", "bye\n"),
    ]
    assert (body["next_after"], body["more"]) == (2, False)


def test_logs_after_a_sequence_number_returns_only_later_chunks(api, running):
    write(running, ("stdout", "a"), ("stdout", "b"), ("stdout", "c"))

    body = api.get(f"/api/v1/tasks/{running.pk}/logs", {"after": 0}).json()

    assert [chunk["data"] for chunk in body["chunks"]] == ["b", "c"]
    assert body["next_after"] == 2


def test_logs_limit_pages_through_the_chunks(api, running):
    write(running, ("stdout", "a"), ("stdout", "b"), ("stdout", "c"))

    first = api.get(f"/api/v1/tasks/{running.pk}/logs", {"limit": 2}).json()
    rest = api.get(f"/api/v1/tasks/{running.pk}/logs", {"limit": 2, "after": first["next_after"]}).json()

    assert ([c["data"] for c in first["chunks"]], first["more"]) == (["a", "b"], True)
    assert ([c["data"] for c in rest["chunks"]], rest["more"]) == (["c"], False)


def test_logs_of_a_task_that_printed_nothing_are_empty(api, running):
    body = api.get(f"/api/v1/tasks/{running.pk}/logs").json()

    assert (body["chunks"], body["next_after"], body["more"]) == ([], -1, False)


def test_logs_show_the_newest_attempt_and_older_ones_on_request(api, running):
    write(running, ("stdout", "first try\n"))
    requeued = builders.moved(running, TaskStatus.PENDING, reason="NodeLost")
    second = builders.placed(requeued)
    write(second, ("stdout", "second try\n"), attempt=2)

    newest = api.get(f"/api/v1/tasks/{running.pk}/logs").json()
    oldest = api.get(f"/api/v1/tasks/{running.pk}/logs", {"attempt": 1}).json()

    assert (newest["attempt"], newest["attempts"]) == (2, [1, 2])
    assert [c["data"] for c in newest["chunks"]] == ["second try\n"]
    assert [c["data"] for c in oldest["chunks"]] == ["first try\n"]


@pytest.mark.parametrize("suffix", ["/logs/raw", "/logs/raw/"])
def test_raw_log_is_the_whole_output_as_plain_text(api, running, suffix):
    write(running, ("stdout", "hello\n"), ("stderr", "oops\n"), ("stdout", "bye\n"))

    response = api.get(f"/api/v1/tasks/{running.pk}{suffix}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert f'filename="task-{running.pk}-attempt-1.log"' in response["Content-Disposition"]
    assert raw_text(response) == "hello\noops\nbye\n"


def test_raw_log_holds_every_chunk_beyond_one_page(api, running):
    lines = [("stdout", f"line {i}\n") for i in range(1200)]
    write(running, *lines)

    response = api.get(f"/api/v1/tasks/{running.pk}/logs/raw")

    assert raw_text(response) == "".join(data for _, data in lines)


def test_raw_log_of_an_earlier_attempt(api, running):
    write(running, ("stdout", "first try\n"))
    second = builders.placed(builders.moved(running, TaskStatus.PENDING, reason="NodeLost"))
    write(second, ("stdout", "second try\n"), attempt=2)

    assert raw_text(api.get(f"/api/v1/tasks/{running.pk}/logs/raw", {"attempt": 1})) == "first try\n"
    assert raw_text(api.get(f"/api/v1/tasks/{running.pk}/logs/raw")) == "second try\n"
