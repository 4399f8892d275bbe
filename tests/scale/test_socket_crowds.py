"""Crowds of sockets on PostgreSQL + Redis (issue 22): log sockets opened all at once, and agents
reconnecting all at once after the master is killed and restarted, get no 5xx and no error: the
Redis channel layer's pool waits when it is busy instead of failing (`scheduler_site.redis_layer`).

One process of asyncio clients (`websockets`) against a real daphne master; the agents are the
bench's simulated ones (`bench/heartbeats.py`: nodes written straight to the database, a light
heartbeat each). The suite's crowd is 300 sockets (redis-py 8's unbounded-wait-less pool failed
past 100 operations in flight); `bench/socket_crowds.py` runs the same tests with 1,000
(SCHEDULER_CROWD). The master gets a long handshake timeout: these tests look for errors, not
speed, on a machine whose load they do not control."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from bench.heartbeats import HEARTBEAT, create_nodes
from tasks.models import TaskStatus
from tests import builders
from tests.cluster import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.timeout(600)]

CROWD = int(os.environ.get("SCHEDULER_CROWD", "300"))
HANDSHAKE_WAIT = 600  # daphne's --websocket_connect_timeout for these masters


@pytest.fixture
def cluster(transactional_db, tmp_path, operator):
    running = Cluster(tmp_path, user=operator)
    try:
        running.start_master(connect_timeout=HANDSHAKE_WAIT)
        yield running
    finally:
        running.stop()
    running.check_logs()


def ws(url: str, path: str) -> str:
    return url.replace("http", "ws", 1) + path


async def open_log_socket(url: str, token: str, outcomes: Counter, opened: list, release: asyncio.Event) -> None:
    try:
        socket = await connect(url, additional_headers={"Authorization": f"Token {token}"},
                               open_timeout=HANDSHAKE_WAIT, ping_interval=None)
    except InvalidStatus as error:
        outcomes[f"HTTP {error.response.status_code}"] += 1
        return
    except Exception as error:
        outcomes[f"{type(error).__name__}: {error}"[:120]] += 1
        return
    try:
        first = json.loads(await asyncio.wait_for(socket.recv(), timeout=HANDSHAKE_WAIT))
        outcomes["ok" if first.get("type") == "status" else f"first frame {first.get('type')}"] += 1
        opened.append(socket)
        await release.wait()
    except Exception as error:
        outcomes[f"{type(error).__name__}: {error}"[:120]] += 1
    finally:
        await socket.close()


def test_a_crowd_of_log_sockets_opened_at_once_all_open(cluster):
    task = builders.task_in(TaskStatus.RUNNING, on=builders.node("node-a"))
    url = ws(cluster.url, f"/ws/tasks/{task.pk}/logs/")

    async def crowd() -> tuple[Counter, int]:
        outcomes: Counter = Counter()
        opened: list = []
        release = asyncio.Event()
        sockets = [asyncio.create_task(open_log_socket(url, cluster.token, outcomes, opened, release))
                   for _ in range(CROWD)]
        while sum(outcomes.values()) < CROWD and not all(s.done() for s in sockets):
            await asyncio.sleep(0.2)
        at_once = len(opened)
        release.set()
        await asyncio.gather(*sockets)
        return outcomes, at_once

    outcomes, at_once = asyncio.run(crowd())

    assert outcomes == Counter(ok=CROWD), outcomes
    assert at_once == CROWD


async def agent_session(url: str, token: str, outcomes: Counter, ready: asyncio.Event | None,
                        stop: asyncio.Event) -> None:
    """Connect (retrying while the master is down, as the agent does), send a heartbeat, read its
    ack; stay until `stop`. A handshake answered with a status is counted, never retried."""
    for _ in range(600):
        try:
            socket = await connect(url, additional_headers={"Authorization": f"Token {token}"},
                                   open_timeout=HANDSHAKE_WAIT, ping_interval=None, max_queue=64)
        except InvalidStatus as error:
            outcomes[f"HTTP {error.response.status_code}"] += 1
            return
        except OSError:  # refused: the master is not listening yet
            await asyncio.sleep(0.2)
            continue
        break
    else:
        outcomes["never connected"] += 1
        return
    try:
        await socket.send(HEARTBEAT)
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=HANDSHAKE_WAIT))
            if frame.get("type") == "error":
                outcomes[f"error frame: {frame.get('detail')}"] += 1
                return
            if frame.get("type") == "heartbeat_ack":
                break
        outcomes["ok"] += 1
        if ready is not None:
            ready.set()
        await stop.wait()
    except Exception as error:
        if not stop.is_set():
            outcomes[f"{type(error).__name__}"[:120]] += 1
    finally:
        await socket.close()


def test_a_crowd_of_agents_reconnects_at_once_after_a_master_restart_without_a_5xx(cluster):
    nodes = create_nodes(0, CROWD)
    url = ws(cluster.url, "/ws/agent/")

    async def connect_all(outcomes: Counter, stop: asyncio.Event, gate: asyncio.Semaphore | None) -> list:
        async def one(token: str) -> None:
            if gate is None:
                await agent_session(url, token, outcomes, None, stop)
                return
            async with gate:
                ready = asyncio.Event()
                session = asyncio.create_task(agent_session(url, token, outcomes, ready, stop))
                await asyncio.wait([asyncio.create_task(ready.wait()), session], return_when=asyncio.FIRST_COMPLETED)
            await session

        return [asyncio.create_task(one(token)) for _, token in nodes]

    async def scenario() -> tuple[Counter, Counter]:
        first, stop = Counter(), asyncio.Event()
        sessions = await connect_all(first, stop, asyncio.Semaphore(100))  # the fleet joins at its own pace
        while first["ok"] < CROWD and sum(first.values()) < CROWD:
            await asyncio.sleep(0.2)
        assert first == Counter(ok=CROWD), first
        # kill -9 the master: every socket drops; restart it on the same port while all retry at once
        await asyncio.to_thread(cluster.kill, "master")
        stop.set()
        await asyncio.gather(*sessions)
        again, stop_again = Counter(), asyncio.Event()
        sessions = await connect_all(again, stop_again, None)
        await asyncio.to_thread(cluster.start_master, "master", port=cluster.ports["master"],
                                connect_timeout=HANDSHAKE_WAIT)
        while sum(again.values()) < CROWD:
            await asyncio.sleep(0.2)
        stop_again.set()
        await asyncio.gather(*sessions)
        return first, again

    _, again = asyncio.run(scenario())

    assert again == Counter(ok=CROWD), again
