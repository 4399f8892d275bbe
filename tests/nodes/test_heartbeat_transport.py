"""A real cluster on the store this run uses (on the SQLite run: the SQLite this machine's Python
links, whatever its version): agents heartbeat over their WebSocket, not HTTP, and the
`scheduler_websocket_connections` gauge equals the sockets really open while agents come and go
(SIGTERM, kill -9, a new one) and browsers open and close log and event sockets."""

from __future__ import annotations

import re
import signal
import sqlite3

import pytest
import requests
import websocket

from tests.cluster import wait_for
from tests.wsclient import Subscriber, log_url

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def metric(cluster, name: str, **labels: str) -> float:
    text = requests.get(f"{cluster.url}/metrics", timeout=10).text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    match = re.search(rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def sockets(cluster, kind: str) -> float:
    return metric(cluster, "scheduler_websocket_connections", kind=kind)


def wait_sockets(cluster, kind: str, count: int) -> None:
    wait_for(lambda: sockets(cluster, kind) == count, timeout=20, what=f"{count} open {kind} socket(s)",
             explain=lambda: sockets(cluster, kind))


def test_agents_heartbeat_over_the_websocket_and_the_gauge_counts_the_open_sockets(cluster):
    print(f"SQLite linked by this Python: {sqlite3.sqlite_version}")
    for name in ("a", "b", "c"):
        cluster.start_agent(name, cpu=1, mem=512)
    wait_sockets(cluster, "agent", 3)

    # Heartbeats: every beat of the three agents over the socket, none over HTTP, for 3 s (6 intervals).
    http_before = metric(cluster, "scheduler_heartbeats_total", transport="http")
    ws_before = metric(cluster, "scheduler_heartbeats_total", transport="websocket")
    wait_for(lambda: metric(cluster, "scheduler_heartbeats_total", transport="websocket") >= ws_before + 18,
             timeout=20, what="18 WebSocket heartbeats")
    assert metric(cluster, "scheduler_heartbeats_total", transport="http") == http_before, \
        "an agent fell back to HTTP heartbeats while its socket was up"
    assert sockets(cluster, "agent") == 3

    # Browsers' sockets: three on a task's log, one on the events; closing them counts down.
    task = cluster.submit("sleep 120", cpu=0.5, mem=64)
    logs = [Subscriber(log_url(cluster.url, task["id"]), cluster.token) for _ in range(3)]
    events = websocket.create_connection(cluster.url.replace("http", "ws", 1) + "/ws/events/",
                                         header=[f"Authorization: Token {cluster.token}"], timeout=10)
    wait_sockets(cluster, "logs", 3)
    wait_sockets(cluster, "events", 1)
    logs.pop().close()
    wait_sockets(cluster, "logs", 2)
    events.close()
    wait_sockets(cluster, "events", 0)

    # Agents go: one stops (SIGTERM), one is killed (-9), a new one joins.
    cluster.signal("agent-a", signal.SIGTERM)
    assert cluster.processes["agent-a"].wait(timeout=30) == 0
    wait_sockets(cluster, "agent", 2)
    cluster.kill("agent-b")
    wait_sockets(cluster, "agent", 1)
    cluster.start_agent("d", cpu=1, mem=512)
    wait_sockets(cluster, "agent", 2)

    for subscriber in logs:
        subscriber.close()
    wait_sockets(cluster, "logs", 0)
    # Settled: what the gauge says is what is open (agents c and d; no browser).
    assert (sockets(cluster, "agent"), sockets(cluster, "logs"), sockets(cluster, "events")) == (2, 0, 0)
    ws_now = metric(cluster, "scheduler_heartbeats_total", transport="websocket")
    wait_for(lambda: metric(cluster, "scheduler_heartbeats_total", transport="websocket") >= ws_now + 4,
             timeout=20, what="the remaining agents heartbeating over their sockets")
