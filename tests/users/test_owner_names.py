"""The owner's name in task summaries (issue 17) costs no query per task: names are read once per
batch and remembered, and the log socket's first frame needs no query on the event loop."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks import owners, task_updates
from tasks.logs.consumers import TaskLogConsumer
from tests import builders
from tests.conftest import make_user


@pytest.mark.django_db
def test_a_batch_of_summaries_reads_the_owners_names_once():
    people = [make_user(f"user{i}") for i in range(5)]
    tasks = [builders.task(submitter=people[i % 5]) for i in range(50)]
    owners.forget()
    with CaptureQueriesContext(connection) as queries:
        task_updates.tasks_changed(tasks)
    assert len([q for q in queries.captured_queries if "auth_user" in q["sql"]]) == 1


@pytest.mark.django_db(transaction=True)
def test_the_log_socket_names_the_owner_without_a_query_on_the_event_loop():
    alice = make_user("alice")
    task = builders.task(submitter=alice)
    owners.forget()

    async def scenario():
        socket = WebsocketCommunicator(TaskLogConsumer.as_asgi(), f"/ws/tasks/{task.pk}/logs/")
        socket.scope["user"] = alice
        socket.scope["url_route"] = {"kwargs": {"task_id": str(task.pk)}}
        assert (await socket.connect())[0]
        frame = json.loads(await socket.receive_from())
        assert frame["type"] == "status" and frame["task"]["owner"] == "alice"
        await socket.disconnect()

    async_to_sync(scenario)()
