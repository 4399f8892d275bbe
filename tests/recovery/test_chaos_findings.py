"""Violations the fault-injection soak (bench/chaos.py) found, each minimised to the smallest
sequence of events that shows it. They fail today and are marked xfail(strict=True): when the fix
lands the test passes, strict xfail turns that into a failure, and the mark comes off.
"""

from __future__ import annotations

import signal
import time

import psycopg
import pytest
import requests

from tests.cluster import Cluster, wait_for
from tests.cluster import test_database_url as database_url

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.mark.postgres
@pytest.mark.xfail(strict=True, reason="soak finding 1: a request whose client gave up while it waited on the "
                   "database never returns its pooled connection; once the pool (SCHEDULER_DB_POOL_SIZE) is "
                   "used up so, the master answers nothing that touches the database again, /healthz included")
def test_master_still_answers_after_clients_abandon_slow_requests(transactional_db, tmp_path, operator):
    cluster = Cluster(tmp_path, user=operator)
    cluster.env["SCHEDULER_DB_POOL_SIZE"] = "2"
    cluster.start_master()
    try:
        task = cluster.submit("true", cpu=0.1, mem=16)  # no agent: it stays PENDING
        url = database_url()
        with psycopg.connect(url) as blocker:
            # Hold the task's row, so a cancel waits on it inside the master (as requests do
            # when the database is slow or restarting), and let each client give up after 0.5 s.
            blocker.execute("SELECT id FROM tasks_task WHERE id = %s FOR UPDATE", (task["id"],))
            for _ in range(3):
                with pytest.raises(requests.Timeout):
                    cluster.api.post(f"{cluster.url}/api/v1/tasks/{task['id']}/cancel", timeout=0.5)
            time.sleep(15)  # past daphne's application close timeout (10 s): it kills the requests
            blocker.rollback()  # the row is free: the abandoned requests can finish now
        deadline = time.monotonic() + 45  # longer than the pool's own 30 s wait
        answers = []
        while time.monotonic() < deadline:
            try:
                answers.append(requests.get(f"{cluster.url}/healthz", timeout=3).status_code)
            except requests.RequestException as error:
                answers.append(type(error).__name__)
            if answers[-1] == 200:
                break
            time.sleep(0.5)
        assert answers[-1] == 200, f"/healthz never answered again after the row was released: {answers}"
        assert cluster.task(task["id"])["status"] == "CANCELLED"
    finally:
        cluster.stop()


@pytest.mark.xfail(strict=True, reason="soak finding 2: a node that stops answering keeps running its tasks "
                   "(a frozen agent cannot kill them, a partitioned one does not try) while the masters "
                   "requeue them after OFFLINE, so one task's work runs to the end twice; the agent side "
                   "holds no lease shorter than OFFLINE that would stop them first")
def test_a_task_on_a_frozen_node_runs_to_the_end_once(cluster, tmp_path):
    done = tmp_path / "done.log"  # outside the scheduler: one line each time the work finishes
    cluster.start_sweeper()
    cluster.start_agent("a", cpu=1, mem=512)
    cluster.start_agent("b", cpu=1, mem=512)
    task = cluster.submit(f'sleep 5; echo "$SCHEDULER_ATTEMPT $SCHEDULER_NODE" >> {done}', cpu=1, mem=64,
                          max_attempts=5)
    first = cluster.wait_task(task["id"], "RUNNING")
    cluster.signal(f"agent-{first['node_name']}", signal.SIGSTOP)  # frozen longer than OFFLINE (3 s)
    try:
        final = cluster.wait_task(task["id"], "SUCCEEDED", timeout=40)
        assert final["attempt"] > first["attempt"] and final["node_name"] != first["node_name"]
    finally:
        cluster.signal(f"agent-{first['node_name']}", signal.SIGCONT)
    wait_for(lambda: done.exists(), what="the work to finish")
    time.sleep(1)
    runs = done.read_text().splitlines()
    assert runs == [f"{final['attempt']} {final['node_name']}"], f"the work ran to the end {len(runs)} times: {runs}"
