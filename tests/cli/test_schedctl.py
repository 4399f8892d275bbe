"""schedctl against a real master and agent, run as users run it: a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cluster import ROOT, free_port

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def schedctl(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "schedctl", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_login_saves_a_token_that_later_commands_use(cluster, operator, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    done = schedctl("--master", cluster.url, "login", "--username", "operator", "--password", "pw-operator", env=env)
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "config" / "mini-scheduler" / "config.json").read_text())
    assert saved["url"] == cluster.url and saved["token"].startswith("msu_")
    assert oct((tmp_path / "config" / "mini-scheduler" / "config.json").stat().st_mode & 0o777) == "0o600"
    listed = schedctl("nodes", env=env)
    assert listed.returncode == 0 and listed.stdout.startswith("NAME")


def test_submit_follow_list_show_and_cancel(cluster, user_env):
    cluster.start_agent("worker-1", labels="zone=a")
    done = schedctl("submit", "--cpu", "0.5", "--mem", "64", "--name", "greet", "--selector", "zone=a", "--follow",
                    "--", "echo", "hello from $SCHEDULER_NODE;", "echo", "warn", ">&2", env=user_env)
    assert done.returncode == 0, done.stderr
    assert "hello from worker-1" in done.stdout and "warn" in done.stderr
    task_id = int(done.stdout.split()[1])
    assert "SUCCEEDED" in done.stderr

    listed = schedctl("tasks", "--status", "SUCCEEDED", env=user_env)
    assert f"{task_id}" in listed.stdout and "greet" in listed.stdout and "worker-1" in listed.stdout

    shown = schedctl("show", str(task_id), env=user_env)
    assert "Scheduled" in shown.stdout and "Succeeded" in shown.stdout

    logs = schedctl("logs", str(task_id), env=user_env)
    assert logs.stdout == "hello from worker-1\nwarn\n"

    long = schedctl("submit", "--cpu", "0.5", "--mem", "64", "--", "sleep", "300", env=user_env)
    long_id = int(long.stdout.split()[1])
    cluster.wait_task(long_id, "RUNNING")
    cancelled = schedctl("cancel", str(long_id), env=user_env)
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout
    again = schedctl("cancel", str(long_id), env=user_env)
    assert again.returncode == 1 and "already CANCELLED" in again.stderr


def test_nodes_drain_and_undrain_by_name(cluster, user_env):
    cluster.start_agent("worker-1", cpu=1.5, mem=512)
    drained = schedctl("drain", "worker-1", env=user_env)
    assert drained.returncode == 0 and "draining" in drained.stdout
    assert cluster.node("worker-1")["draining"] is True
    listed = schedctl("nodes", env=user_env)
    assert "ONLINE draining" in listed.stdout and "0/1.5" in listed.stdout
    undrained = schedctl("undrain", "worker-1", env=user_env)
    assert undrained.returncode == 0 and cluster.node("worker-1")["draining"] is False


def test_clear_errors_for_bad_input_wrong_token_and_unreachable_master(cluster, user_env):
    bad = schedctl("submit", "--cpu", "-1", "--", "true", env=user_env)
    assert bad.returncode == 1 and "cpu: Must be greater than 0." in bad.stderr
    wrong = schedctl("tasks", env={**user_env, "SCHEDULER_TOKEN": "msu_0000_nope"})
    assert wrong.returncode == 1 and "refused the token" in wrong.stderr
    away = schedctl("tasks", env={**user_env, "SCHEDULER_URL": f"http://127.0.0.1:{free_port()}"})
    assert away.returncode == 1 and "cannot reach the master" in away.stderr
    missing = schedctl("show", "999999", env=user_env)
    assert missing.returncode == 1 and "not found" in missing.stderr
