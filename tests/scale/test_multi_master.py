"""Several masters and sweepers on PostgreSQL + Redis: work crosses masters through the channel
layer, two sweepers never requeue twice, and a master killed mid-task loses no work or line."""

from __future__ import annotations

import pytest
from django.conf import settings

from tasks.models import LogChunk, TaskEvent
from tests.cluster import wait_for
from tests.wsclient import Subscriber, assert_gapless, log_url

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.timeout(180)]

LINES = 300
COMMAND = f'for i in $(seq 1 {LINES}); do echo "line $i from $SCHEDULER_NODE"; sleep 0.02; done'


def test_two_masters_two_sweepers_and_a_master_killed(cluster):
    assert settings.REDIS_URL, "the multi-master setup needs the Redis channel layer (REDIS_URL)"
    master_1 = cluster.url
    master_2 = cluster.start_master("master-2")
    cluster.start_sweeper("sweeper-1")
    cluster.start_sweeper("sweeper-2")
    # Both agents talk to master 2 first; master 1 is their fallback.
    cluster.start_agent("w1", cpu=1, mem=1024, master=f"{master_2},{master_1}")
    cluster.start_agent("w2", cpu=1, mem=1024, master=f"{master_2},{master_1}")
    assert f"{master_2.replace('http', 'ws')}/ws/agent/" in cluster.log("agent-w1")

    # Submitted through master 1, placed there, run by an agent connected to master 2; its lines
    # reach a subscriber on master 1 through Redis while it runs.
    task = cluster.submit(COMMAND, master=master_1, cpu=1, mem=64)
    watcher = Subscriber(log_url(master_1, task["id"]), cluster.token)
    wait_for(lambda: "line 20 from" in watcher.text(), what="live lines on master 1")
    running = cluster.task(task["id"])
    assert running["status"] == "RUNNING"

    # kill -9 of master 2 mid-task: the agents move to master 1 and resend what was not acked.
    cluster.kill("master-2")
    done = cluster.wait_task(task["id"], "SUCCEEDED", timeout=60)
    expected = "".join(f"line {i} from {done['node_name']}\n" for i in range(1, LINES + 1))
    chunks = LogChunk.objects.filter(task_id=task["id"], attempt=1).order_by("seq")
    stored = b"".join(bytes(d) for d in chunks.values_list("data", flat=True)).decode()
    assert stored == expected
    wait_for(lambda: watcher.text() == expected, what="every line at the subscriber", explain=watcher.text)
    assert_gapless(watcher.logs())
    watcher.close()
    failed_over = f"{master_1.replace('http', 'ws')}/ws/agent/"
    assert failed_over in cluster.log(f"agent-{done['node_name']}"), "the agent moved to master 1"

    # Two sweepers, one lost node: each of its tasks is requeued exactly once.
    long_tasks = [cluster.submit("sleep 300", master=master_1, cpu=0.5, mem=64)["id"] for _ in range(2)]
    placed = {t: cluster.wait_task(t, "RUNNING")["node_name"] for t in long_tasks}
    victim = placed[long_tasks[0]]
    cluster.kill(f"agent-{victim}")
    cluster.wait_node(victim, "OFFLINE", timeout=15)
    lost = [t for t, name in placed.items() if name == victim]
    for t in lost:
        wait_for(lambda t=t: TaskEvent.objects.filter(task_id=t, reason="NodeLost").exists(), what="requeue")
    cluster.wait_node(victim, "OFFLINE")
    for t in lost:
        assert TaskEvent.objects.filter(task_id=t, reason="NodeLost").count() == 1
