"""The agent against a real master: registration, heartbeats, execution, cancel, timeout, memory."""

from __future__ import annotations

import os
import re
import signal
import time

import psutil
import pytest

from nodes.models import Node
from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def pid_from_log(cluster, task_id: int, label: str) -> int:
    match = wait_for(lambda: re.search(rf"{label}=(\d+)", cluster.logs_text(task_id)), what=f"{label} in the log")
    return int(match.group(1))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_agent_registers_and_heartbeats_with_usage(cluster):
    cluster.start_agent("worker-1", cpu=1.5, mem=1024, labels="zone=a,disk=ssd")
    node = cluster.node("worker-1")
    assert (node["cpu"], node["mem"], node["labels"]) == (1.5, 1024, {"zone": "a", "disk": "ssd"})
    first = node["last_heartbeat"]
    later = wait_for(lambda: (n := cluster.node("worker-1"))["last_heartbeat"] > first and n, what="a later heartbeat")
    assert later["cpu_usage"] is not None and 0 <= later["cpu_usage"] <= 100
    assert later["mem_usage"] is not None and 0 <= later["mem_usage"] <= 100
    assert Node.objects.get(name="worker-1").token_digest  # stored hashed, and present


def test_task_runs_with_its_environment_and_exit_codes_land(cluster):
    cluster.start_agent("worker-1")
    env_task = cluster.submit('echo "id=$SCHEDULER_TASK_ID attempt=$SCHEDULER_ATTEMPT node=$SCHEDULER_NODE '
                              'greeting=$GREETING token=${SCHEDULER_JOIN_TOKEN:-none}"; echo oops >&2',
                              env={"GREETING": "hello world"}, cpu=0.5, mem=64)
    ok = cluster.submit("exit 0", cpu=0.5, mem=64)
    three = cluster.submit("exit 3", cpu=0.5, mem=64)
    signalled = cluster.submit("kill -9 $$", cpu=0.5, mem=64)
    done = cluster.wait_task(env_task["id"], "SUCCEEDED")
    text = cluster.logs_text(env_task["id"])
    assert f"id={env_task['id']} attempt=1 node=worker-1 greeting=hello world token=none" in text
    assert "oops" in text
    assert done["exit_code"] == 0 and done["started_at"] and done["finished_at"]
    assert cluster.wait_task(ok["id"], "SUCCEEDED")["exit_code"] == 0
    failed = cluster.wait_task(three["id"], "FAILED")
    assert failed["exit_code"] == 3 and failed["status_reason"] == "Failed"
    killed = cluster.wait_task(signalled["id"], "FAILED")
    assert killed["exit_code"] == 128 + signal.SIGKILL
    assert "signal 9" in killed["status_message"]


def test_stdout_and_stderr_are_kept_apart(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("echo out-1; echo err-1 >&2; echo out-2", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "SUCCEEDED")
    chunks = cluster.api.get(f"{cluster.url}/api/v1/tasks/{task['id']}/logs").json()["chunks"]
    by_stream = {"stdout": "", "stderr": ""}
    for chunk in chunks:
        by_stream[chunk["stream"]] += chunk["data"]
    assert by_stream == {"stdout": "out-1\nout-2\n", "stderr": "err-1\n"}


def test_cancel_kills_the_whole_process_group(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("(sleep 300; echo never) & echo child=$!; echo shell=$$; sleep 300", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "RUNNING")
    child, shell = pid_from_log(cluster, task["id"], "child"), pid_from_log(cluster, task["id"], "shell")
    assert not gone(child) and not gone(shell)
    response = cluster.api.post(f"{cluster.url}/api/v1/tasks/{task['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    wait_for(lambda: gone(child) and gone(shell), timeout=10, what="the subshell's sleep and the shell to die")
    assert "never" not in cluster.logs_text(task["id"])


def test_timeout_kills_the_task_and_says_so(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("echo started; sleep 60", timeout=1, cpu=0.5, mem=64)
    started = time.monotonic()
    failed = cluster.wait_task(task["id"], "FAILED", timeout=15)
    assert time.monotonic() - started < 10
    assert failed["status_reason"] == "Timeout"
    assert failed["exit_code"] == 128 + signal.SIGTERM
    assert "started" in cluster.logs_text(task["id"])


def test_memory_limit_is_enforced_and_reported(cluster):
    cluster.start_agent("worker-1", mem=4096)
    hog = cluster.submit(
        "python3 -c \"import time; blocks = [bytearray(10 * 2**20) for _ in range(40)]; time.sleep(30)\"",
        mem=100, cpu=0.5,
    )
    failed = cluster.wait_task(hog["id"], "FAILED", timeout=20)
    assert failed["status_reason"] == "OOMKilled"
    assert "100 MiB" in failed["status_message"]
    modest = cluster.submit("python3 -c \"blocks = [bytearray(2**20) for _ in range(10)]\"", mem=100, cpu=0.5)
    assert cluster.wait_task(modest["id"], "SUCCEEDED")["exit_code"] == 0


def test_agent_told_a_task_is_not_its_own_kills_it(cluster):
    from tasks.services import requeue_task

    cluster.start_agent("worker-1")
    cluster.start_sweeper()  # places the requeued task: the requeue happened outside the master
    task = cluster.submit("echo shell=$$; sleep 300", cpu=0.5, mem=64, max_attempts=3)
    cluster.wait_task(task["id"], "RUNNING")
    first_shell = pid_from_log(cluster, task["id"], "shell")
    requeue_task(task_id=task["id"], by="test")
    wait_for(lambda: gone(first_shell), timeout=10, what="the first attempt's process to be killed")
    second = cluster.wait_task(task["id"], "RUNNING")
    assert second["attempt"] == 2


def test_restarted_agent_is_the_same_node_and_leaves_no_orphan(cluster):
    agent = cluster.start_agent("worker-1")
    node_id = cluster.node("worker-1")["id"]
    task = cluster.submit("(sleep 300) & echo child=$!; echo shell=$$; sleep 300", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "RUNNING")
    child, shell = pid_from_log(cluster, task["id"], "child"), pid_from_log(cluster, task["id"], "shell")
    # The guardian is the agent's only other child in its own session; stop it too, so only
    # the state dir can tell the next life what to clean up.
    guardians = [p for p in psutil.Process(agent.pid).children() if "agent.guardian" in " ".join(p.cmdline())]
    assert len(guardians) == 1
    os.kill(guardians[0].pid, signal.SIGKILL)
    cluster.kill("agent-worker-1")
    assert not gone(child), "nothing killed the task yet: the restart must"
    cluster.start_agent("worker-1")
    assert cluster.node("worker-1")["id"] == node_id
    wait_for(lambda: gone(child) and gone(shell), timeout=10, what="the previous life's processes to be killed")
    requeued = wait_for(lambda: (t := cluster.task(task["id"]))["attempt"] == 2 and t, what="attempt 2")
    assert "AgentLost" in [e["reason"] for e in requeued["events"]]
    cluster.wait_task(task["id"], "RUNNING")


def test_killed_agent_takes_its_tasks_down_with_it(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("(sleep 300) & echo child=$!; sleep 300", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "RUNNING")
    child = pid_from_log(cluster, task["id"], "child")
    cluster.kill("agent-worker-1")
    wait_for(lambda: gone(child), timeout=5, what="the guardian to kill the task's group")


def test_sigterm_requeues_tasks_and_takes_the_node_offline(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("echo shell=$$; sleep 300", cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "RUNNING")
    shell = pid_from_log(cluster, task["id"], "shell")
    cluster.signal("agent-worker-1", signal.SIGTERM)
    assert cluster.processes["agent-worker-1"].wait(timeout=15) == 0
    assert gone(shell)
    assert cluster.node("worker-1")["status"] == "OFFLINE"
    after = cluster.task(task["id"])
    assert after["status"] == "PENDING" and after["attempt"] == 1
    assert "NodeLeft" in [e["reason"] for e in after["events"]]
    assert "shell=" in cluster.logs_text(task["id"], attempt=1)  # its output was delivered before leaving


def _cpu_list(text: str) -> set[int]:
    """The CPUs of a `Cpus_allowed_list` value, e.g. `0-2,5`."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_with_exclusive_cpus_a_whole_core_task_runs_on_a_cpu_of_its_own(cluster):
    cpus = set(os.sched_getaffinity(0))
    cluster.start_agent("worker-1", cpu=2, options=("--exclusive-cpus",))
    show = "grep Cpus_allowed_list /proc/self/status"
    own = cluster.submit(f"{show}; sleep 2", cpu=1, mem=64)
    cluster.wait_task(own["id"], "RUNNING")
    shared = cluster.submit(f"sleep 0.5; {show}; sleep 2.5; {show}", cpu=0.5, mem=64)
    for task in (shared, own):
        cluster.wait_task(task["id"], "SUCCEEDED", timeout=30)

    def allowed(task) -> list[set[int]]:
        text = cluster.api.get(f"{cluster.url}/api/v1/tasks/{task['id']}/logs/raw").text
        return [_cpu_list(line.split()[-1]) for line in text.splitlines()]

    assert allowed(own) == [{max(cpus)}]
    # the other task had every CPU but that one while it ran, and all of them after
    assert allowed(shared) == [cpus - {max(cpus)}, cpus]
