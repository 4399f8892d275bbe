"""The master's HTTP side through ASGI itself (not Django's test client): each request is served in
one call on a pool of long-lived threads, whose database connections persist between requests;
streaming answers (the raw log) and early disconnects still work."""

from __future__ import annotations

import asyncio
import json
import threading
import time

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


async def call_with_headers(app, path: str, token: str) -> tuple[int | None, dict, bytes]:
    answer: dict = {"status": None, "headers": {}, "body": b""}
    inbox = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if inbox:
            return inbox.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope(path, token), receive, send)
    return answer["status"], answer["headers"], answer["body"]


def test_healthz_answers_while_every_http_thread_is_busy(token):
    app = ThreadPoolASGIHandler(threads=1)
    gate = threading.Event()
    app.pool.submit(gate.wait, 30)  # the only thread is taken (as by a request waiting on a lock)
    try:
        status, _, body = asyncio.run(asyncio.wait_for(call_with_headers(app, "/healthz", token), 10))
    finally:
        gate.set()
    assert status == 200
    answer = json.loads(body)
    assert answer["status"] == "ok" and answer["database"] == connection.vendor
    assert answer["http"]["in_flight"] == 0 and answer["http"]["limit"] == app.limit


def test_past_the_bound_a_request_is_answered_503_with_retry_after_at_once_and_the_others_are_served(token):
    app = ThreadPoolASGIHandler(threads=1, max_queued=1)
    gate = threading.Event()
    app.pool.submit(gate.wait, 30)

    async def scenario():
        waiting = [asyncio.create_task(call_with_headers(app, "/api/v1/tasks", token)) for _ in range(2)]
        await asyncio.sleep(0.3)  # both are in the master: one for the thread, one queued
        began = time.monotonic()
        shed = await asyncio.wait_for(call_with_headers(app, "/api/v1/tasks", token), 5)
        shed_in = time.monotonic() - began
        agent = asyncio.create_task(call_with_headers(app, "/api/v1/internal/nodes/1/heartbeat", token))
        await asyncio.sleep(0.3)
        gate.set()
        return shed, shed_in, await asyncio.gather(*waiting), await agent

    (status, headers, body), shed_in, served, agent = asyncio.run(scenario())
    assert status == 503 and headers["retry-after"] == "1", (status, headers)
    assert json.loads(body)["code"] == "overloaded"
    assert shed_in < 2  # answered at the door, not after the queue
    assert [answer[0] for answer in served] == [200, 200]
    assert agent[0] != 503  # agents' requests have twice the room
    assert app.in_flight == 0 and app.shed == 1


def test_a_request_abandoned_before_a_thread_took_it_is_not_run(token):
    app = ThreadPoolASGIHandler(threads=1)
    gate = threading.Event()
    app.pool.submit(gate.wait, 30)
    body = b'{"command": "true", "cpu": 0.1, "mem": 16}'

    async def scenario():
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        request = asyncio.create_task(call(app, "/api/v1/tasks", token, messages=messages))
        await asyncio.sleep(0.3)
        request.cancel()  # what daphne does once the client is gone past application_close_timeout
        await asyncio.gather(request, return_exceptions=True)
        gate.set()
        while app.in_flight:
            await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert not Task.objects.exists()


def test_an_unreachable_database_is_a_503_with_retry_after_in_the_apis_error_shape():
    from django.db import InterfaceError, OperationalError

    from scheduler_site.errors import exception_handler

    for error in (OperationalError("connection refused"), InterfaceError("connection already closed")):
        response = exception_handler(error, {})
        assert response.status_code == 503 and response["Retry-After"].isdigit()
        assert response.data == {"detail": "The database is unavailable right now; retry later.",
                                 "code": "database_unavailable"}
