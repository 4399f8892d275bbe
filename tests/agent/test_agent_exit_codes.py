"""How a real agent ends when it cannot go on: refused by the master when it registers again, it
stops cleanly with exit code 2 (a supervisor restarting it would only be refused again), without a
traceback."""

from __future__ import annotations

import pytest

from nodes.services import forget_node
from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_a_refused_registration_after_the_join_token_rotated_exits_2_cleanly(cluster):
    agent = cluster.start_agent("worker-1")
    task = cluster.submit("echo shell=$$; sleep 300", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "RUNNING")
    # The operator forgets the node and rotates the join token (the master restarted with a new
    # one): the agent's node token is refused, and so is its old join token.
    forget_node(node_id=cluster.node("worker-1")["id"], by="test")
    cluster.env["SCHEDULER_JOIN_TOKEN"] = "rotated-join-token-0123456789"
    cluster.restart_master()
    cluster.expect_log(r"cannot join the cluster again", process="agent-worker-1")

    code = wait_for(lambda: agent.poll(), timeout=60, what="the agent to exit")
    assert code == 2
    log = cluster.log("agent-worker-1")
    assert "agent stopped" in log and "Traceback" not in log
    assert cluster.node("worker-1") is None
