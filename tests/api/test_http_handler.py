"""The master's HTTP side through ASGI itself (not Django's test client): each request is served in
one call on a pool of long-lived threads, whose database connections persist between requests;
streaming answers (the raw log) and early disconnects still work."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.signals import request_started
from django.db import connection

from scheduler_site.http_handler import ThreadPoolASGIHandler
from scheduler_site.models import ApiToken
from tasks.logs.store import IncomingChunk, store_chunks
from tasks.models import Task
from tests import builders

pytestmark = pytest.mark.django_db(transaction=True)


def scope(path: str, token: str, method: str = "GET") -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Token {token}".encode())],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}


async def call(app, path: str, token: str, *, messages: list[dict] | None = None) -> tuple[int | None, bytes]:
    inbox = list(messages or [{"type": "http.request", "body": b"", "more_body": False}])
    answer: dict = {"status": None, "body": b""}

    async def receive():
        if inbox:
            return inbox.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope(path, token), receive, send)
    return answer["status"], answer["body"]


@pytest.fixture
def token(operator) -> str:
    return ApiToken.issue(user=operator)[1]


def test_requests_run_on_a_few_long_lived_threads_that_keep_their_connection(token):
    app = ThreadPoolASGIHandler(threads=2)
    seen: list[tuple[str, int]] = []

    def note(**kwargs):
        seen.append((threading.current_thread().name, id(connection.connection) if connection.connection else 0))

    request_started.connect(note)
    try:
        for _ in range(6):
            status, _ = asyncio.run(call(app, "/api/v1/tasks", token))
            assert status == 200
    finally:
        request_started.disconnect(note)

    threads = {name for name, _ in seen}
    assert len(threads) <= 2 and all(name.startswith("http") for name in threads)
    if connection.settings_dict["CONN_MAX_AGE"]:  # persistent connections (SQLite; PostgreSQL pools them)
        by_thread: dict[str, set[int]] = {}
        for name, conn in seen:
            if conn:  # 0: the thread's first request, before it opened one
                by_thread.setdefault(name, set()).add(conn)
        assert by_thread and all(len(conns) == 1 for conns in by_thread.values()), by_thread


def test_a_streaming_answer_is_sent_whole(token):
    task = builders.task_in("RUNNING", on=builders.node())
    store_chunks(task.node_id, [IncomingChunk(task=task.pk, attempt=task.attempt, seq=seq, stream="stdout",
                                              data=f"line {seq}\n".encode(), ts=0.0) for seq in range(3)])

    status, body = asyncio.run(call(ThreadPoolASGIHandler(), f"/api/v1/tasks/{task.pk}/logs/raw", token))

    assert status == 200
    assert body == b"line 0\nline 1\nline 2\n"


def test_a_client_gone_before_its_body_arrived_gets_no_answer_and_changes_nothing(token):
    messages = [{"type": "http.request", "body": b'{"comm', "more_body": True}, {"type": "http.disconnect"}]

    status, body = asyncio.run(call(ThreadPoolASGIHandler(), "/api/v1/tasks", token, messages=messages))

    assert status is None and body == b""
    assert not Task.objects.exists()


def test_the_master_serves_http_with_this_handler():
    from scheduler_site import asgi

    assert isinstance(asgi.django_app, ThreadPoolASGIHandler)
