"""An exception inside a socket handler never leaves the socket half-dead: the agent socket answers
with an error frame and stays up, the browsers' sockets close cleanly, and the disconnect
bookkeeping (group membership, the `scheduler_websocket_connections` gauge) always runs.

In-process, the real consumers on the real database and channel layer, with one of their
collaborators made to fail (nothing else makes them fail on demand); the last test drives a real
master (daphne) into a handler that really fails."""

from __future__ import annotations

import json
import re

import pytest
import requests
import websocket
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from agent import protocol
from nodes.services import forget_node
from scheduler_site import groups, metrics
from tasks.agents import consumer as agent_consumer
from tasks.agents.consumer import AgentConsumer
from tasks.events_consumer import EventsConsumer
from tasks.logs import consumers as log_consumers
from tasks.logs.consumers import TaskLogConsumer
from tasks.models import TaskStatus
from tests import builders
from tests.cluster import wait_for


def gauge(kind: str) -> float:
    return metrics.WEBSOCKETS.labels(kind)._value.get()


def members(group: str) -> int:
    layer = get_channel_layer()
    return len(layer.groups.get(group, {})) if hasattr(layer, "groups") else -1


class Boom(RuntimeError):
    pass


def boom(*args, **kwargs):
    raise Boom("a collaborator failed")


@pytest.mark.django_db(transaction=True)
def test_the_agent_socket_answers_a_failing_frame_with_an_error_and_stays_up(monkeypatch):
    node = builders.node()
    monkeypatch.setattr(agent_consumer, "store_chunks", boom)
    before = gauge("agent")

    async def scenario():
        socket = WebsocketCommunicator(AgentConsumer.as_asgi(), "/ws/agent/")
        socket.scope["node"] = node
        assert (await socket.connect())[0]
        assert gauge("agent") == before + 1
        chunk = protocol.chunk(task=1, attempt=1, seq=0, stream="stdout", data=b"x", ts=1.0)
        await socket.send_to(text_data=protocol.dumps(protocol.logs_frame([chunk])))
        answer = json.loads(await socket.receive_from())
        assert answer["type"] == "error"
        await socket.send_to(text_data=protocol.dumps(protocol.sync()))  # still answering
        assert json.loads(await socket.receive_from())["type"] == "desired"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert gauge("agent") == before
    assert members(groups.node_group(node.pk)) in (0, -1)


@pytest.mark.django_db(transaction=True)
def test_a_failing_log_socket_closes_cleanly_and_uncounts_itself(monkeypatch):
    user = User.objects.create(username="viewer", is_staff=True)  # an operator: may read any task's output
    node = builders.node()
    task = builders.task_in(TaskStatus.RUNNING, on=node)
    monkeypatch.setattr(log_consumers, "_page", boom)
    before = gauge("logs")

    async def scenario():
        socket = WebsocketCommunicator(TaskLogConsumer.as_asgi(), f"/ws/tasks/{task.pk}/logs/")
        socket.scope["user"] = user
        socket.scope["url_route"] = {"kwargs": {"task_id": str(task.pk)}}
        connected, _ = await socket.connect()
        assert connected
        assert json.loads(await socket.receive_from())["type"] == "status"
        closed = await socket.receive_output()
        assert closed == {"type": "websocket.close", "code": 1011}
        await socket.disconnect()

    async_to_sync(scenario)()
    assert gauge("logs") == before
    assert members(groups.task_group(task.pk)) in (0, -1)


@pytest.mark.django_db(transaction=True)
def test_a_failing_event_socket_message_closes_it_cleanly_and_uncounts_it():
    user = User.objects.create(username="viewer")
    before = gauge("events")

    async def scenario():
        socket = WebsocketCommunicator(EventsConsumer.as_asgi(), "/ws/events/")
        socket.scope["user"] = user
        assert (await socket.connect())[0]
        assert json.loads(await socket.receive_from()) == {"type": "hello"}
        await get_channel_layer().group_send(groups.EVENTS, {"type": "cluster.tasks"})  # no "tasks": KeyError
        assert await socket.receive_output() == {"type": "websocket.close", "code": 1011}
        await socket.disconnect()

    async_to_sync(scenario)()
    assert gauge("events") == before
    assert members(groups.EVENTS) in (0, -1)


def served_gauge(master: str, kind: str) -> float:
    text = requests.get(f"{master}/metrics", timeout=10).text
    match = re.search(rf'^scheduler_websocket_connections\{{kind="{kind}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.cluster
def test_an_agent_socket_whose_handler_fails_stays_up_and_is_uncounted_by_a_real_daphne(cluster, settings):
    """An operator forgets a node while its agent's socket is open; the agent's next full heartbeat
    finds no node row and the handler raises. Before: daphne dropped the socket with 1011 and the
    gauge counted it for ever. Now: an error frame, the socket still answers, and it is uncounted
    when it closes."""
    joined = requests.post(f"{cluster.url}/api/v1/internal/register", json={"name": "w", "cpu": 1, "mem": 256},
                           headers={"Authorization": f"Token {settings.SCHEDULER_JOIN_TOKEN}"}, timeout=10).json()
    url = cluster.url.replace("http", "ws", 1) + "/ws/agent/"
    socket = websocket.create_connection(url, header=[f"Authorization: Token {joined['token']}"], timeout=10)
    wait_for(lambda: served_gauge(cluster.url, "agent") == 1, what="the agent socket counted")
    forget_node(node_id=joined["id"])
    cluster.expect_log(r"Node matching query does not exist", process="master")

    socket.send(protocol.dumps({"type": "heartbeat", **protocol.heartbeat_body(cpu_usage=1.0, mem_usage=1.0,
                                                                               reports=[])}))
    assert json.loads(socket.recv())["type"] == "error"
    socket.send(protocol.dumps(protocol.sync()))
    assert json.loads(socket.recv())["type"] == "desired"  # the socket is not half-dead
    assert served_gauge(cluster.url, "agent") == 1
    socket.close()

    wait_for(lambda: served_gauge(cluster.url, "agent") == 0, what="the agent socket gauge back to 0",
             explain=lambda: served_gauge(cluster.url, "agent"))
