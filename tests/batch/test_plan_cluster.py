"""The dry run against a running cluster: empty (no node), free, then full."""

from __future__ import annotations

import pytest

from tasks.models import Task

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_the_dry_run_on_an_empty_then_a_free_then_a_full_cluster(cluster):
    def plan(**body) -> dict:
        response = cluster.api.post(f"{cluster.url}/api/v1/tasks/plan", json={"command": "true", **body}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    empty = plan(cpu=1)
    assert (empty["node"], empty["nodes"], empty["status_reason"]) == (None, [], "Unschedulable")
    assert empty["status_message"] == "0/0 nodes are available."

    cluster.start_agent("worker-1", cpu=1, mem=1024)
    free = plan(cpu=1, mem=64)
    assert free["node"]["name"] == "worker-1" and free["placeable"]

    busy = cluster.submit("sleep 60", cpu=1, mem=64)
    cluster.wait_task(busy["id"], "RUNNING")
    full = plan(cpu=1, mem=64)
    assert full["node"] is None and not full["placeable"]
    assert full["nodes"] == [{"id": full["nodes"][0]["id"], "name": "worker-1", "feasible": False, "chosen": False,
                              "reason": "Insufficient cpu"}]
    assert full["status_message"] == "0/1 nodes are available: 1 Insufficient cpu."
    assert Task.objects.count() == 1  # the plans wrote nothing
    cluster.api.post(f"{cluster.url}/api/v1/tasks/{busy['id']}/cancel")
