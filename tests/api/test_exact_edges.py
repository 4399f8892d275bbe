"""The API's edges, exact (issue 22): methods no route answers, bodies over the upload limit, ids
and tokens of any length, and every malformed agent frame answered on the socket it came on."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from agent import protocol
from nodes.models import Node
from tasks.agents.consumer import AgentConsumer
from tasks.logs.consumers import TaskLogConsumer
from tasks.models import Task, TaskStatus
from tests import builders
from tests.api.support import client_with, post_raw, row_counts
from tests.protocol.test_protocol import BAD_FRAMES

pytestmark = pytest.mark.django_db

HUGE_ID = "9" * 5000


@pytest.mark.parametrize("method", ["TRACE", "TRACK", "CONNECT"])
@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/nodes/1", "/", "/admin/", "/api/schema/", "/healthz"])
@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_trace_is_a_405_in_the_apis_shape_for_anyone_anywhere(request, method, path, who):
    client = APIClient() if who == "anonymous" else request.getfixturevalue("api")

    response = client.generic(method, path)

    assert response.status_code == 405, response.content
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}


@pytest.mark.parametrize("path, client", [("/api/v1/tasks", "api"), ("/api/v1/internal/register", "joiner")])
def test_a_body_over_the_upload_limit_is_a_json_400_and_writes_nothing(request, settings, path, client):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    caller = request.getfixturevalue(client)
    counts = row_counts()

    response = post_raw(caller, path, json.dumps({"command": "x" * (100 * 1024), "name": "w", "cpu": 1, "mem": 1}))

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "too_large"
    assert row_counts() == counts


def test_a_node_token_naming_an_id_of_any_length_is_refused_not_a_500(node_a):
    node, _ = node_a
    agent = client_with(f"node_{HUGE_ID}_secret")

    response = agent.post(f"/api/v1/internal/nodes/{node.pk}/heartbeat", {}, format="json")

    assert response.status_code in (401, 403), response.content


@pytest.mark.parametrize("route", ["heartbeat", "leave"])
def test_an_internal_route_with_an_id_of_any_length_is_refused(node_a, route):
    _, agent = node_a

    response = agent.post(f"/api/v1/internal/nodes/{HUGE_ID}/{route}", {}, format="json")

    assert response.status_code == 403, response.content
    assert Node.objects.get().status == node_a[0].status


@pytest.mark.parametrize("query", [f"node={HUGE_ID}", f"q=%23{HUGE_ID}", f"cursor={HUGE_ID}"])
def test_a_list_filter_with_a_number_of_any_length_is_not_a_500(api, query):
    builders.task()

    response = api.get(f"/api/v1/tasks?{query}")

    assert response.status_code in (200, 400), response.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("task_id", [HUGE_ID, "1" * 4301, "0" * 5000])
def test_the_log_socket_handshake_with_an_id_of_any_length_is_a_404_close(task_id):
    user = User.objects.create(username="viewer")

    async def scenario():
        socket = WebsocketCommunicator(TaskLogConsumer.as_asgi(), f"/ws/tasks/{task_id}/logs/")
        socket.scope["user"] = user
        socket.scope["url_route"] = {"kwargs": {"task_id": task_id}}
        connected, code = await socket.connect()
        assert (connected, code) == (False, 4404)

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_the_log_socket_takes_a_query_number_of_any_length_as_absent():
    user = User.objects.create(username="viewer")
    task = builders.task_in(TaskStatus.SUCCEEDED, on=builders.node())

    async def scenario():
        path = f"/ws/tasks/{task.pk}/logs/?attempt={HUGE_ID}&after={HUGE_ID}"
        socket = WebsocketCommunicator(TaskLogConsumer.as_asgi(), path)
        socket.scope["user"] = user
        socket.scope["url_route"] = {"kwargs": {"task_id": str(task.pk)}}
        assert (await socket.connect())[0]
        assert json.loads(await socket.receive_from())["type"] == "status"
        await socket.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_every_malformed_agent_frame_is_answered_with_an_error_frame_and_the_socket_stays_up():
    node = builders.node()
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    async def scenario():
        socket = WebsocketCommunicator(AgentConsumer.as_asgi(), "/ws/agent/")
        socket.scope["node"] = node
        assert (await socket.connect())[0]
        for frame in BAD_FRAMES:
            if isinstance(frame, bytes):
                await socket.send_to(bytes_data=frame)
            else:
                await socket.send_to(text_data=frame)
            answer = json.loads(await socket.receive_from(timeout=10))
            assert answer["type"] == "error", (frame[:60], answer)
        await socket.send_to(text_data=protocol.dumps(protocol.sync()))
        assert json.loads(await socket.receive_from(timeout=10))["type"] == "desired"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert Task.objects.get(pk=running.pk).status == TaskStatus.RUNNING
