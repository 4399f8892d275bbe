"""A task's environment, seen by a real task on a real agent: its `env`, the SCHEDULER_ variables
README documents, and a few basics from the agent's own environment as the agent was started
(README, "What the agent guarantees"). Nothing of the agent's configuration leaks: no join token,
no DJANGO_ variable, no database URL, and no TZ unless the agent's own environment had one."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

DOCUMENTED = {"SCHEDULER_TASK_ID", "SCHEDULER_ATTEMPT", "SCHEDULER_NODE", "SCHEDULER_TASK_NAME", "SCHEDULER_CPU",
              "SCHEDULER_MEM",
              # GPUs (issue 19): set for every task, empty for one given none
              "SCHEDULER_GPUS", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"}
PASS_THROUGH = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SHELL", "TERM"}
SHELL_OWN = {"PWD"}  # /bin/sh sets it for the command


def environment_of_a_task(cluster, agent: str, **agent_env: str | None) -> dict[str, str]:
    cluster.start_agent(agent, env={"SCHEDULER_SECRET_MARKER": "agent-only", "DJANGO_DEBUG": "1",
                                    "DATABASE_URL": "sqlite:///agent-must-not-leak", **agent_env})
    task = cluster.submit("env", name="print-env", env={"GREETING": "hello world"}, cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "SUCCEEDED")
    lines = cluster.logs_text(task["id"]).splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_a_task_sees_its_env_the_documented_variables_and_the_basics_only(cluster):
    env = environment_of_a_task(cluster, "worker-1", TZ=None, LC_ALL="C.UTF-8")

    assert env["GREETING"] == "hello world"
    assert set(env) >= DOCUMENTED and env["SCHEDULER_NODE"] == "worker-1" and env["SCHEDULER_TASK_NAME"] == "print-env"
    assert env["SCHEDULER_CPU"] == "0.5" and env["SCHEDULER_MEM"] == "64" and env["SCHEDULER_ATTEMPT"] == "1"
    assert env["LC_ALL"] == "C.UTF-8"
    assert (env["CUDA_VISIBLE_DEVICES"], env["SCHEDULER_GPUS"]) == ("", "")  # no GPU asked, none visible
    unexpected = set(env) - DOCUMENTED - PASS_THROUGH - SHELL_OWN - {"GREETING", "LC_ALL"}
    assert unexpected == set(), f"the agent's environment leaked into the task: {sorted(unexpected)}"
    # The agent had no TZ: Django's default time zone (America/Chicago) must not appear from nowhere.
    assert "TZ" not in env


def test_a_tz_of_the_agents_own_environment_passes_through_unchanged(cluster):
    env = environment_of_a_task(cluster, "worker-2", TZ="Europe/Paris")
    assert env["TZ"] == "Europe/Paris"
    assert "SCHEDULER_JOIN_TOKEN" not in env and "SCHEDULER_SECRET_MARKER" not in env
    assert not any(key.startswith("DJANGO_") for key in env) and "DATABASE_URL" not in env
