"""Live logs end to end: a real agent's output reaches the store and WebSocket subscribers, in
order, per stream, with no gap and no duplicate, across a master killed mid-task."""

from __future__ import annotations

import time

import pytest
import websocket

from tasks.models import LogChunk
from tests.cluster import wait_for
from tests.wsclient import Subscriber, assert_gapless, log_url

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def ws_url(cluster, task_id: int, query: str = "") -> str:
    return log_url(cluster.url, task_id, query)


def test_20000_lines_of_stdout_and_stderr_arrive_in_order_with_their_stream(cluster):
    cluster.start_agent("worker-1")
    command = ("python3 -c \"import sys\n"
               "for i in range(10000):\n"
               "    print(f'out {i}'); print(f'err {i}', file=sys.stderr)\"")
    task = cluster.submit(command, cpu=0.5, mem=256)
    cluster.wait_task(task["id"], "SUCCEEDED", timeout=60)
    chunks = list(LogChunk.objects.filter(task_id=task["id"], attempt=1).order_by("seq"))
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    out = b"".join(c.data for c in chunks if c.stream == 1).decode().splitlines()
    err = b"".join(c.data for c in chunks if c.stream == 2).decode().splitlines()
    assert out == [f"out {i}" for i in range(10000)]
    assert err == [f"err {i}" for i in range(10000)]
    # The REST view of the same log agrees, chunk for chunk.
    body = cluster.api.get(f"{cluster.url}/api/v1/tasks/{task['id']}/logs?limit=5000").json()
    assert [c["seq"] for c in body["chunks"]] == [c.seq for c in chunks][:5000]
    assert {c["stream"] for c in body["chunks"]} == {"stdout", "stderr"}


def test_subscriber_sees_lines_while_the_task_runs_and_a_late_one_gets_a_gapless_log(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("for i in $(seq 1 60); do echo line $i; sleep 0.05; done; sleep 0.5", cpu=0.5, mem=64)
    early = Subscriber(ws_url(cluster, task["id"]), cluster.token)
    wait_for(lambda: "line 5\n" in early.text(), what="lines while the task runs")
    assert cluster.task(task["id"])["status"] == "RUNNING", "lines arrived while it was still running"
    late = Subscriber(ws_url(cluster, task["id"]), cluster.token)  # joins mid-run
    cluster.wait_task(task["id"], "SUCCEEDED")
    expected = "".join(f"line {i}\n" for i in range(1, 61))
    for subscriber in (early, late):
        wait_for(lambda s=subscriber: s.text() == expected, what="the whole log", explain=lambda s=subscriber: s.text())
        assert_gapless(subscriber.logs())
        assert subscriber.logs()[0]["seq"] == 0
        wait_for(lambda s=subscriber: "SUCCEEDED" in s.statuses(), what="the status frame")
        subscriber.close()


def test_resume_from_a_sequence_number(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("for i in $(seq 1 20); do echo $i; sleep 0.05; done", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "SUCCEEDED")
    chunks = list(LogChunk.objects.filter(task_id=task["id"]).order_by("seq"))
    assert len(chunks) >= 2
    resume_after = chunks[0].seq
    resumed = Subscriber(ws_url(cluster, task["id"], f"attempt=1&after={resume_after}"), cluster.token)
    wait_for(lambda: len(resumed.logs()) == len(chunks) - 1, what="the chunks after the resume point")
    assert [f["seq"] for f in resumed.logs()] == [c.seq for c in chunks[1:]]
    resumed.close()


def test_a_long_history_arrives_whole_in_order_across_growing_pages(cluster):
    # History goes out in pages of 1, 4, 16, 64, 256 chunks: 300 chunks span five pages.
    cluster.start_agent("worker-1")
    task = cluster.submit("echo first", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "SUCCEEDED")
    wait_for(lambda: LogChunk.objects.filter(task_id=task["id"]).exists(), what="the first chunk stored")
    LogChunk.objects.bulk_create(
        LogChunk(task_id=task["id"], attempt=1, seq=seq, stream=1, data=f"line {seq}\n".encode(), ts=0.0)
        for seq in range(1, 300)
    )
    subscriber = Subscriber(ws_url(cluster, task["id"]), cluster.token)
    wait_for(lambda: len(subscriber.logs()) >= 300, what="300 chunks", explain=lambda: len(subscriber.logs()))
    assert [f["seq"] for f in subscriber.logs()] == list(range(300))
    assert subscriber.text() == "first\n" + "".join(f"line {seq}\n" for seq in range(1, 300))
    subscriber.close()


def test_anonymous_and_node_token_subscribers_are_refused(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("echo secret", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "SUCCEEDED")
    url = ws_url(cluster, task["id"])
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(url, timeout=5)
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(url, header=["Authorization: Token msu_bad_token"], timeout=5)
    with pytest.raises(websocket.WebSocketBadStatusException):  # a session cookie from another site
        websocket.create_connection(url, origin="http://evil.example", timeout=5)
    events = cluster.url.replace("http", "ws") + "/ws/events/"
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(events, timeout=5)


def test_master_killed_mid_task_loses_no_line(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("for i in $(seq 1 400); do echo line $i; sleep 0.01; done", cpu=0.5, mem=64)
    wait_for(lambda: LogChunk.objects.filter(task_id=task["id"]).exists(), what="the first chunk stored")
    cluster.kill("master")  # kill -9 of daphne mid-task; the task keeps printing into the agent's spool
    time.sleep(1.5)
    cluster.start_master(port=cluster.ports["master"])  # the agent reconnects and resends what was not acked
    cluster.wait_task(task["id"], "SUCCEEDED", timeout=30)
    expected = "".join(f"line {i}\n" for i in range(1, 401))

    def stored() -> str:
        return b"".join(c.data for c in LogChunk.objects.filter(task_id=task["id"], attempt=1).order_by("seq")).decode()

    # the end report goes before the output still spooled (the shipper sends reports first): the
    # last lines may trail the SUCCEEDED by a moment, and none may be missing
    wait_for(lambda: stored() == expected, timeout=30, what="every line stored", explain=lambda: stored()[-80:])
    chunks = list(LogChunk.objects.filter(task_id=task["id"], attempt=1).order_by("seq"))
    assert [c.seq for c in chunks] == list(range(len(chunks)))
