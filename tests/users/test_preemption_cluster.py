"""Preemption and no starvation on a real cluster (issue 17): a master, an agent, users via the API.

- Off (the default): a big high-priority task waits for the node it needs and small low-priority
  tasks submitted after it do not take that node; it runs when the running task ends.
- On (SCHEDULER_PREEMPTION=1): the high-priority task evicts the running low-priority one, whose
  agent stops it (SIGTERM) because it left the node's desired state; the victim is requeued as a
  new attempt with the reason Preempted, naming the task, and runs again afterwards.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


def events(cluster, task_id: int) -> list[dict]:
    return cluster.task(task_id)["events"]


def test_without_preemption_the_big_task_is_not_starved_by_small_ones(cluster):
    cluster.start_agent("worker-1", cpu=2)
    running = cluster.submit("sleep 4", cpu=1, mem=32, priority=0)
    cluster.wait_task(running["id"], "RUNNING", timeout=60)
    big = cluster.submit("true", cpu=2, mem=32, priority=10)
    wait_for(lambda: "reserved" in cluster.task(big["id"])["status_message"], timeout=30,
             what="the big task's node reserved")
    small = [cluster.submit("true", cpu=1, mem=32, priority=-5) for _ in range(3)]

    done = cluster.wait_task(big["id"], "SUCCEEDED", timeout=90)
    first_small_start = min(cluster.wait_task(t["id"], "SUCCEEDED", timeout=90)["started_at"] for t in small)
    assert first_small_start >= done["started_at"], "a small low-priority task took the big task's node"
    assert cluster.task(running["id"])["status"] == "SUCCEEDED", "not preempted: preemption is off"
    assert cluster.task(running["id"])["attempt"] == 1


def test_with_preemption_the_high_priority_task_evicts_the_low_one(cluster):
    cluster.env["SCHEDULER_PREEMPTION"] = "1"
    cluster.restart_master()
    cluster.start_agent("worker-1", cpu=2)
    shared = Path(tempfile.mkdtemp(prefix="preempt-"))  # tasks run as another user: outside pytest's 0700 dirs
    os.chmod(shared, 0o777)
    marker = shared / "terms"
    victim = cluster.submit(f"trap 'echo TERM >> {marker}; exit 143' TERM; echo started; sleep 60 & wait", cpu=2,
                            mem=32, priority=0, max_attempts=1)
    cluster.wait_task(victim["id"], "RUNNING", timeout=60)
    wait_for(lambda: "started" in cluster.logs_text(victim["id"]), timeout=30, what="the victim's output")
    urgent = cluster.submit("echo urgent", cpu=2, mem=32, priority=50)

    cluster.wait_task(urgent["id"], "SUCCEEDED", timeout=90)
    preempted = [e for e in events(cluster, victim["id"]) if e["reason"] == "Preempted"]
    assert len(preempted) == 1 and f"Preempted by task {urgent['id']}" in preempted[0]["message"]
    wait_for(lambda: marker.exists() and "TERM" in marker.read_text(), timeout=30,
             what="the evicted attempt stopped with SIGTERM")
    assert "killing a task the master no longer wants here" in cluster.log("agent-worker-1")
    # requeued as a new attempt, not charged (max_attempts=1 would have failed it otherwise)
    second = cluster.wait_task(victim["id"], "RUNNING", timeout=90)
    assert second["attempt"] == 2
    cluster.api.post(f"{cluster.url}/api/v1/tasks/{victim['id']}/cancel", timeout=10)
    cluster.wait_task(victim["id"], "CANCELLED", timeout=60)
    marker.unlink(missing_ok=True)
    shared.rmdir()
