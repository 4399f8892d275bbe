"""Chaos: real agents killed and frozen under running work. Every task must end SUCCEEDED exactly
once, by its newest attempt; a thawed node's stale copies die within a heartbeat and its late
reports change nothing; no node is ever over capacity; every reservation comes back."""

from __future__ import annotations

import re
import signal
import threading
import time

import psutil
import pytest

from tasks.accounting import invariant_violations
from tasks.models import LogChunk, Task, TaskEvent
from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

HEARTBEAT = 0.5
# Each task prints its shell pid, then a line every 0.2 s for 20 s, then done-<id>-<attempt>.
COMMAND = ('echo "pid=$$"; for i in $(seq 100); do echo "tick $i"; sleep 0.2; done; '
           'echo "done-$SCHEDULER_TASK_ID-$SCHEDULER_ATTEMPT"')


class InvariantWatch:
    """Checks the resource books every 100 ms while the scenario runs."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(0.1):
                self.problems += invariant_violations()
                self.checks += 1
        finally:
            connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pids_of(cluster, task_id: int, attempt: int) -> int:
    match = wait_for(lambda: re.search(r"pid=(\d+)", cluster.logs_text(task_id, attempt)), what="the task's pid")
    return int(match.group(1))


def test_tasks_survive_killed_and_frozen_agents(leased_cluster):
    cluster = leased_cluster
    cluster.start_sweeper("sweeper-1")
    cluster.start_sweeper("sweeper-2")  # two sweepers at once: no double requeue
    for name in ("a", "b", "c"):
        cluster.start_agent(name, cpu=4, mem=4096)
    with InvariantWatch() as watch:
        # Best Fit fills a (8 x 0.5 cores), then b (4); c stays empty for the requeued work.
        tasks = [cluster.submit(COMMAND, cpu=0.5, mem=64, max_attempts=5)["id"] for _ in range(12)]
        running = {t: cluster.wait_task(t, "RUNNING") for t in tasks}
        on = {name: [t for t, v in running.items() if v["node_name"] == name] for name in "abc"}
        assert (len(on["a"]), len(on["b"]), len(on["c"])) == (8, 4, 0)
        b_pids = {t: pids_of(cluster, t, 1) for t in on["b"]}

        cluster.kill("agent-a")  # kill -9
        cluster.signal("agent-b", signal.SIGSTOP)
        frozen_at = time.time()
        cluster.wait_node("a", "OFFLINE", timeout=10)
        cluster.wait_node("b", "OFFLINE", timeout=10)
        for t in on["b"]:
            wait_for(lambda t=t: any(e["reason"] == "NodeLost" for e in cluster.task(t)["events"]),
                     what=f"task {t} requeued", explain=lambda t=t: cluster.task(t))
        # b's lease (OFFLINE less a heartbeat) ran out while it was frozen: its guardian killed b's
        # copies, so they cannot run to the end beside the requeued attempts (soak finding 2).
        wait_for(lambda: not any(alive(pid) for pid in b_pids.values()), timeout=5,
                 what="b's guardian to kill its copies when the lease ran out, b still frozen")
        assert time.time() - frozen_at < 10

        cluster.signal("agent-b", signal.SIGCONT)
        cluster.wait_node("b", "ONLINE", timeout=5)
        cluster.start_agent("a", cpu=4, mem=4096)  # restarted with the same state dir

        for t in tasks:
            cluster.wait_task(t, "SUCCEEDED", timeout=90)
    assert watch.checks > 20 and watch.problems == []

    for t in tasks:
        task = Task.objects.get(pk=t)
        successes = TaskEvent.objects.filter(task=task, to_status="SUCCEEDED")
        assert successes.count() == 1, f"task {t} succeeded {successes.count()} times"
        assert successes.get().attempt == task.attempt, "the newest attempt's result is the task's"
        assert f"done-{t}-{task.attempt}" in cluster.logs_text(t, task.attempt)
    for t in on["b"]:
        # b's late output and reports for the old attempt were refused: nothing it read after thawing
        # was stored, and no transition of attempt 1 came after the requeue.
        assert not LogChunk.objects.filter(task_id=t, attempt=1, ts__gt=frozen_at + 0.5).exists()
        requeue = TaskEvent.objects.get(task_id=t, attempt=1, reason="NodeLost")
        assert not TaskEvent.objects.filter(task_id=t, attempt=1, id__gt=requeue.id,
                                            to_status__in=["RUNNING", "SUCCEEDED", "FAILED"]).exists()
    # (whether thawed b still says "stopped by the lease" depends on which it sees first, its reaper
    # or the master's desired state that forgot those attempts: the kill itself is asserted above)
    for t in on["a"] + on["b"]:
        assert TaskEvent.objects.filter(task_id=t, reason="NodeLost").count() == 1
    assert invariant_violations() == []
    wait_for(lambda: all(n["cpu_allocated"] == 0 and n["mem_allocated"] == 0 for n in
                         cluster.api.get(f"{cluster.url}/api/v1/nodes").json()["results"]),
             what="every reservation released")
