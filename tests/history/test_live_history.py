"""The history through the real stack: the sweeper records buckets and the dashboard's events
socket carries each new bucket as a `history` frame (through Redis, or through the master's event
feed with the in-memory layer); the API serves what was recorded."""

from __future__ import annotations

import json
import time

import pytest
import websocket

from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_the_sweeper_records_history_and_the_events_socket_relays_each_bucket(cluster):
    cluster.start_agent("worker-1", cpu=2, mem=1024)
    cluster.wait_node("worker-1", "ONLINE")
    events = websocket.create_connection(cluster.url.replace("http", "ws") + "/ws/events/",
                                         header=[f"Authorization: Token {cluster.token}"], timeout=5)
    try:
        assert json.loads(events.recv())["type"] == "hello"
        cluster.start_sweeper()
        task = cluster.submit("sleep 0.2", cpu=0.5, mem=64)
        cluster.wait_task(task["id"], "SUCCEEDED")
        frame, deadline = None, time.monotonic() + 40
        while time.monotonic() < deadline:
            events.settimeout(max(0.1, deadline - time.monotonic()))
            got = json.loads(events.recv())
            if got["type"] == "history":
                frame = got
                break
        assert frame is not None, "no history frame within 40 s"
        assert frame["step"] == 10
        assert frame["point"]["cpu"]["capacity"] == 2
        assert [n["cpu"]["capacity"] for n in frame["nodes"]] == [2]
    finally:
        events.close()

    body = wait_for(lambda: (b := cluster.api.get(f"{cluster.url}/api/v1/metrics/history").json())["t"] and b,
                    what="a recorded bucket in the API")
    assert body["step"] == 10
    assert body["cpu"]["capacity"][-1] == 2
