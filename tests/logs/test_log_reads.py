"""Reading a log as docs/logs.md promises: tail first, older pages, the page holding a line, exact
bytes (base64 pages, raw download per stream), per-line prefixes, and server-side search with its
400s."""

from __future__ import annotations

import base64

import pytest

from tasks.logs.store import IncomingChunk, store_chunks
from tasks.models import Task, TaskStatus
from tests import builders

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]


@pytest.fixture
def running(db) -> Task:
    return builders.task_in(TaskStatus.RUNNING, on=builders.node("node-a"))


def write(task: Task, *chunks: tuple, attempt: int = 1) -> None:
    """(stream, bytes[, cont]) chunks numbered from 0, ts 1000 + seq."""
    incoming = []
    for seq, (stream, data, *rest) in enumerate(chunks):
        data = data.encode() if isinstance(data, str) else data
        incoming.append(IncomingChunk(task=task.pk, attempt=attempt, seq=seq, stream=stream, data=data,
                                      ts=1000.0 + seq + 0.25, cont=bool(rest and rest[0])))
    acked, stale = store_chunks(task.node_id, incoming)
    assert stale == [] and len(acked) == len(incoming)


def many(n: int, per_chunk: int = 10) -> list[tuple]:
    return [("stdout", "".join(f"line {i * per_chunk + j}\n" for j in range(per_chunk))) for i in range(n)]


def logs(api, task: Task, **params) -> dict:
    response = api.get(f"/api/v1/tasks/{task.pk}/logs", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_tail_first_then_older_pages_down_to_the_first_line(api, running):
    write(running, *many(300))

    tail = logs(api, running, tail=1, limit=100)
    assert tail["total_lines"] == 3000
    assert [c["seq"] for c in tail["chunks"]] == list(range(200, 300))
    assert tail["chunks"][-1]["data"].endswith("line 2999\n") and tail["more"] is True
    seen = [c["seq"] for c in tail["chunks"]]
    before = tail["first_seq"]
    while True:
        page = logs(api, running, before=before, limit=100)
        seen = [c["seq"] for c in page["chunks"]] + seen
        if not page["more"]:
            break
        before = page["first_seq"]
    assert seen == list(range(300))


def test_the_page_holding_a_line_starts_with_the_chunk_where_it_starts(api, running):
    write(running, *many(300))

    page = logs(api, running, line=1234, limit=5)
    first = page["chunks"][0]
    assert first["line"] <= 1234 < first["line"] + first["lines"]
    assert "line 1234\n" in first["data"]
    past_end = logs(api, running, line=10**9, limit=5)
    assert past_end["chunks"][-1]["seq"] == 299


def test_pages_keep_to_a_byte_budget_however_many_chunks_are_asked_for(api, running):
    write(running, *[("stdout", "x" * 100_000 + "\n") for _ in range(10)])
    tail = logs(api, running, tail=1, limit=1000)
    assert 1 <= len(tail["chunks"]) <= 3 and tail["chunks"][-1]["seq"] == 9


def test_base64_pages_and_the_raw_download_are_byte_exact(api, running):
    binary = bytes(range(256)) * 4 + b"\xff\xfe\x00"
    accents = "é".encode() * 1000
    write(running, ("stdout", binary), ("stderr", "warn\n"), ("stdout", accents, True))

    body = logs(api, running, encoding="base64")
    assert b"".join(base64.b64decode(c["b64"]) for c in body["chunks"] if c["stream"] == "stdout") == binary + accents
    assert "\ufffd" in body["chunks"][0]["data"]  # shown with replacement characters
    stdout = b"".join(api.get(f"/api/v1/tasks/{running.pk}/logs/raw", {"stream": "stdout"}))
    assert stdout == binary + accents
    whole = b"".join(api.get(f"/api/v1/tasks/{running.pk}/logs/raw"))
    assert whole == binary + b"warn\n" + accents


def test_raw_download_with_timestamps_and_streams_prefixes_each_line(api, running):
    write(running, ("stdout", "a\nb\npart"), ("stderr", "oops\n"), ("stdout", "ial\nc\n", True))

    text = b"".join(api.get(f"/api/v1/tasks/{running.pk}/logs/raw", {"timestamps": 1, "streams": 1})).decode()

    assert text.splitlines() == [
        "1970-01-01T00:16:40.250Z stdout a",
        "1970-01-01T00:16:40.250Z stdout b",
        "1970-01-01T00:16:40.250Z stdout part",
        "1970-01-01T00:16:41.250Z stderr oops",
        "1970-01-01T00:16:42.250Z stdout ial",
        "1970-01-01T00:16:42.250Z stdout c",
    ]
    only_streams = b"".join(api.get(f"/api/v1/tasks/{running.pk}/logs/raw", {"streams": "1"})).decode()
    assert only_streams.startswith("stdout a\nstdout b\n")


def test_search_finds_lines_over_every_attempt_and_both_streams(api, running):
    write(running, ("stdout", "hello\nNeedle one\n"), ("stderr", "a needle on stderr\n"),
          ("stdout", "x" * 500 + "NEEDLE\n"))
    second = builders.placed(builders.moved(running, TaskStatus.PENDING, reason="NodeLost"))
    write(second, ("stdout", "needle in attempt 2\n"), attempt=2)

    body = api.get(f"/api/v1/tasks/{running.pk}/logs/search", {"q": "needle"}).json()

    assert body["total"] == 4 and body["complete"] is True
    assert [(m["attempt"], m["line"], m["stream"]) for m in body["matches"]] == [
        (1, 1, "stdout"), (1, 2, "stderr"), (1, 3, "stdout"), (2, 0, "stdout"),
    ]
    assert body["matches"][2]["text"].endswith("NEEDLE") and len(body["matches"][2]["text"]) <= 202
    page = api.get(f"/api/v1/tasks/{running.pk}/logs/search", {"q": "needle", "offset": 1, "limit": 2}).json()
    assert (page["total"], [m["line"] for m in page["matches"]]) == (4, [2, 3])
    regex = api.get(f"/api/v1/tasks/{running.pk}/logs/search", {"q": r"needle (one|on)\b", "regex": 1}).json()
    assert [m["line"] for m in regex["matches"]] == [1, 2]
    only_err = api.get(f"/api/v1/tasks/{running.pk}/logs/search", {"q": "needle", "stream": "stderr"}).json()
    assert [m["line"] for m in only_err["matches"]] == [2]


def test_search_finds_a_continued_line_under_its_own_number(api, running):
    write(running, ("stdout", "first\nstart of "), ("stderr", "other\n"), ("stdout", "the target\nlast\n", True))
    body = api.get(f"/api/v1/tasks/{running.pk}/logs/search", {"q": "target"}).json()
    assert [(m["line"], m["text"]) for m in body["matches"]] == [(1, "the target")]
    last = api.get(f"/api/v1/tasks/{running.pk}/logs/search", {"q": "last"}).json()
    assert [m["line"] for m in last["matches"]] == [3]


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"), ({"q": ""}, "q"), ({"q": "x" * 1001}, "q"), ({"q": "(", "regex": 1}, "q"),
    ({"q": "(a+)+$", "regex": 1}, "q"), ({"q": "x", "regex": "maybe"}, "regex"), ({"q": "x", "limit": 0}, "limit"),
    ({"q": "x", "offset": -1}, "offset"), ({"q": "x", "stream": "stdin"}, "stream"),
    ({"q": "x", "attempt": "1e3"}, "attempt"),
])
def test_bad_search_queries_are_400_naming_the_field(api, running, params, field):
    response = api.get(f"/api/v1/tasks/{running.pk}/logs/search", params)
    assert response.status_code == 400, response.content
    assert field in str(response.json())


@pytest.mark.parametrize(("params", "field"), [
    ({"tail": 2}, "tail"), ({"before": -1}, "before"), ({"line": "x"}, "line"), ({"after": 1, "tail": 1}, "after"),
    ({"encoding": "hex"}, "encoding"), ({"line": "9" * 30}, "line"),
])
def test_bad_page_parameters_are_400_naming_the_field(api, running, params, field):
    response = api.get(f"/api/v1/tasks/{running.pk}/logs", params)
    assert response.status_code == 400, response.content
    assert field in str(response.json())


def test_bad_raw_parameters_are_400(api, running):
    assert api.get(f"/api/v1/tasks/{running.pk}/logs/raw", {"stream": "both"}).status_code == 400
    assert api.get(f"/api/v1/tasks/{running.pk}/logs/raw", {"timestamps": "yes"}).status_code == 400
