"""Dependencies against the real system: afterok, afterany and afternotok chains run in order, and
an afterok dependency that fails cancels its dependents and theirs (the cascade)."""

from __future__ import annotations

import pytest

from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_chains_run_in_order_and_a_failed_dependency_cancels_the_afterok_chain(cluster):
    cluster.start_agent("worker-1", cpu=4)
    gate = cluster.workdir / "gate"
    first = cluster.submit(f"while [ ! -e {gate} ]; do sleep 0.05; done; echo first", cpu=0.5, mem=64)
    second = cluster.submit("echo second", cpu=0.5, mem=64, depends_on=[first["id"]])
    failing = cluster.submit(f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 2", cpu=0.5, mem=64)
    after_ok = cluster.submit("echo never", cpu=0.5, mem=64, depends_on=[failing["id"]])
    cascade = cluster.submit("echo never", cpu=0.5, mem=64, depends_on=[after_ok["id"]])
    after_not_ok = cluster.submit("echo cleanup", cpu=0.5, mem=64, depends_on=[failing["id"]],
                                  dependency="afternotok")
    after_any = cluster.submit("echo report", cpu=0.5, mem=64, depends_on=[failing["id"], first["id"]],
                               dependency="afterany")
    waiting = wait_for(lambda: (t := cluster.task(second["id"]))["status_reason"] == "Dependency" and t,
                       what="second to wait for first")
    assert waiting["status"] == "PENDING" and waiting["status_message"] == f"Waiting for task {first['id']}."
    assert cluster.task(first["id"])["dependents"] == [second["id"], after_any["id"]]
    gate.touch()

    done_first = cluster.wait_task(first["id"], "SUCCEEDED")
    done_second = cluster.wait_task(second["id"], "SUCCEEDED")
    assert done_second["started_at"] >= done_first["finished_at"]
    assert cluster.wait_task(failing["id"], "FAILED")["exit_code"] == 2
    for task in (after_ok, cascade):
        cancelled = cluster.wait_task(task["id"], "CANCELLED")
        assert cancelled["status_reason"] == "DependencyNeverSatisfied" and cancelled["attempt"] == 0
    assert cluster.task(cascade["id"])["status_message"] == (
        f"Task {after_ok['id']} is CANCELLED: afterok can never be met.")
    assert cluster.logs_text(cluster.wait_task(after_not_ok["id"], "SUCCEEDED")["id"]) == "cleanup\n"
    assert cluster.logs_text(cluster.wait_task(after_any["id"], "SUCCEEDED")["id"]) == "report\n"
