"""Arrays against the real system: 1,000 elements with %5 never run more than five at once and run
every index exactly once; an element's retry."""

from __future__ import annotations

import time

import pytest

from scheduler_site.statuses import ACTIVE_STATUSES, TERMINAL_STATUSES
from tasks.models import LogChunk, Task, TaskEvent
from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


def most_at_once(array_id: int) -> int:
    """The most elements ASSIGNED or RUNNING at one moment, from the master's own events (one
    clock): +1 when an attempt is placed, -1 when it leaves ASSIGNED/RUNNING; at one instant, ends
    count before starts."""
    changes = []
    for event in TaskEvent.objects.filter(task__array_id=array_id).order_by("id"):
        if event.to_status == "ASSIGNED":
            changes.append((event.created_at, 1))
        elif event.from_status in ACTIVE_STATUSES and event.to_status not in ACTIVE_STATUSES:
            changes.append((event.created_at, -1))
    level = peak = 0
    for _, delta in sorted(changes):
        level += delta
        peak = max(peak, level)
    return peak


def test_an_array_of_a_thousand_with_percent_five(cluster):
    cluster.start_agent("worker-1", cpu=16, mem=16384)
    started = time.monotonic()
    response = cluster.api.post(f"{cluster.url}/api/v1/tasks", json={
        "command": "echo $SCHEDULER_ARRAY_INDEX", "cpu": 0.1, "mem": 16, "array": "0-999%5"}, timeout=60)
    assert response.status_code == 201, response.text
    array = response.json()["array"]
    assert (array["size"], array["throttle"]) == (1000, 5)

    def finished() -> bool:
        counts = cluster.api.get(f"{cluster.url}/api/v1/arrays/{array['id']}", timeout=30).json()["counts"]
        return sum(counts[s] for s in TERMINAL_STATUSES) == 1000 and counts

    counts = wait_for(finished, timeout=540, interval=1, what="the array to finish")
    print(f"\n1,000 elements, %5: {time.monotonic() - started:.1f} s")
    assert counts["SUCCEEDED"] == 1000, counts
    assert most_at_once(array["id"]) <= 5
    assert set(Task.objects.filter(array_id=array["id"]).values_list("attempt", flat=True)) == {1}
    expected = sorted(f"{index}\n".encode() for index in range(1000))  # every index exactly once

    def outputs() -> list[bytes]:
        stored = LogChunk.objects.filter(task__array_id=array["id"]).values_list("data", flat=True)
        return sorted(bytes(data) for data in stored)

    # output may trail an end report by a moment (the agent sends reports first)
    wait_for(lambda: outputs() == expected, timeout=30, what="every element's output",
             explain=lambda: len(outputs()))


def test_an_elements_retry(cluster, shared_dir):
    cluster.start_agent("worker-1", cpu=4)
    marker = shared_dir / "failed-once"
    command = (f'if [ "$SCHEDULER_ARRAY_INDEX" = 1 ] && [ ! -e {marker} ]; then touch {marker}; exit 5; fi; '
               'echo "index $SCHEDULER_ARRAY_INDEX attempt $SCHEDULER_ATTEMPT"')
    response = cluster.api.post(f"{cluster.url}/api/v1/tasks", json={
        "command": command, "cpu": 0.1, "mem": 16, "array": "0-2", "retries": 1, "retry_backoff": 0.5})
    tasks = {t["array_index"]: t for t in response.json()["tasks"]}
    for index in (0, 1, 2):
        cluster.wait_task(tasks[index]["id"], "SUCCEEDED", timeout=60)
    retried = cluster.task(tasks[1]["id"])
    assert (retried["attempt"], retried["retries_used"]) == (2, 1)
    assert cluster.logs_text(tasks[1]["id"], 2) == "index 1 attempt 2\n"
    assert cluster.task(tasks[0]["id"])["attempt"] == 1
    assert wait_for(lambda: cluster.api.get(f"{cluster.url}/api/v1/arrays/{response.json()['array']['id']}")
                    .json()["counts"]["SUCCEEDED"] == 3)
