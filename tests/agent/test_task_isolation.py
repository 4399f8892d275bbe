"""A task cannot read the agent's secrets (issue 22): run as root (as here and in CI), the agent
starts tasks as an unprivileged user, keeps its state dir (identity, process records, spools) to
itself and gives each task a working directory outside it. A hostile task tries the agent's
environment and command line, the identity file, the state dir, another task's spool, and the
work root to find another task's working directory: each is refused, and neither the join token
nor the node token ever reaches a task's log.

Not covered, by design of one task user: tasks share that user, so a task that learns another's
working directory (e.g. from /proc/<pid>/cwd) can read it (README, "What a task can read")."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cluster import wait_for

pytestmark = [
    pytest.mark.cluster, pytest.mark.timeout(180),
    pytest.mark.skipif(os.geteuid() != 0, reason="running tasks as another user needs the agent to be root"),
]


def test_a_task_cannot_read_the_agents_secrets_or_another_tasks_files(cluster):
    cluster.start_agent("worker-1")
    state = cluster.workdir / "worker-1"
    identity_file = state / "identity.json"
    wait_for(identity_file.exists, what="the agent to save its identity")  # just after the master answered
    node_token = json.loads(identity_file.read_text())["token"]
    join_token = cluster.env["SCHEDULER_JOIN_TOKEN"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(identity_file.stat().st_mode) == 0o600

    neighbour = cluster.submit("echo neighbour-secret > secret.txt; echo neighbour-output; sleep 60",
                               cpu=0.5, mem=64)
    cluster.wait_task(neighbour["id"], "RUNNING")
    work_root = Path((state / "workroot").read_text().strip())
    assert not str(work_root).startswith(str(state))
    neighbour_dir = wait_for(lambda: next(work_root.glob(f"{neighbour['id']}-1-*"), None),
                             what="the neighbour's working directory")
    wait_for(lambda: (neighbour_dir / "secret.txt").exists(), what="the neighbour's file")
    neighbour_spool = state / "spool" / f"{neighbour['id']}-1" / "stdout"

    probe = cluster.submit(
        "id -un; "
        f'for f in /proc/$PPID/environ {identity_file} {neighbour_spool} ../{neighbour["id"]}-1/secret.txt; do '
        '  if cat "$f" > /dev/null 2>&1; then echo "READABLE $f"; else echo "refused $f: $(cat "$f" 2>&1)"; fi; '
        "done; "
        f'ls {state} 2>&1; ls {state}/spool 2>&1; ls .. 2>&1; '
        'echo "cmdline: $(tr "\\0" " " < /proc/$PPID/cmdline)"; '
        "cat /proc/$PPID/environ; "
        "echo probe-done",
        cpu=0.5, mem=64)
    cluster.wait_task(probe["id"], "SUCCEEDED", timeout=60)
    text = cluster.logs_text(probe["id"])

    assert "probe-done" in text, text
    assert text.splitlines()[0] == "scheduler-task", text
    assert "READABLE" not in text, text
    # environ, identity, spool, the state dir and its spool dir, the work root (listed), environ again
    assert text.count("Permission denied") >= 7, text
    assert f"../{neighbour['id']}-1/secret.txt: No such file" in text, "working directories cannot be guessed"
    assert "neighbour-secret" not in text and "neighbour-output" not in text
    assert "cmdline: " in text and "runworker" in text  # readable, but holds no secret
    for task in (probe, neighbour):
        log = cluster.logs_text(task["id"])
        assert join_token not in log and node_token not in log
