"""schedctl as users run it in scripts and pipelines, against a real cluster: following a log
through a master killed and restarted, `submit --follow` exiting with the task's exit code,
cancelling several tasks at once, a reader that goes away (`| head`), and multi-line commands in
the task table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schedctl.commands import EXIT_BROKEN_PIPE, exit_code_of
from tests.cli.test_schedctl import schedctl
from tests.cluster import ROOT, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


def start_schedctl(tmp_path: Path, name: str, *args: str, env: dict[str, str]) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    process = subprocess.Popen([sys.executable, "-m", "schedctl", *args], cwd=ROOT, env=env,
                               stdout=out.open("w"), stderr=err.open("w"))
    return process, out, err


def in_a_pipeline(pipeline: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `pipeline` in bash; the last line of stdout is schedctl's exit status (PIPESTATUS)."""
    script = f'{pipeline}; echo "status=${{PIPESTATUS[0]}}"'
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_logs_follow_goes_on_through_a_master_killed_and_restarted_every_line_once(cluster, user_env, tmp_path):
    cluster.start_agent("worker-1")
    task = cluster.submit("for i in $(seq 1 100); do echo line-$i; sleep 0.1; done", cpu=0.5, mem=64)
    follower, out, err = start_schedctl(tmp_path, "follow", "logs", str(task["id"]), "--follow", env=user_env)
    wait_for(lambda: "line-3\n" in out.read_text(), timeout=30, what="the first lines followed")
    assert "line-100" not in out.read_text()

    cluster.restart_master()  # kill -9, then the same port again

    assert follower.wait(timeout=120) == 0, err.read_text()
    assert out.read_text().splitlines() == [f"line-{i}" for i in range(1, 101)]
    errors = err.read_text()
    assert "Traceback" not in errors and "resuming after sequence" in errors, errors
    assert f"task {task['id']} SUCCEEDED" in errors


def test_submit_follow_exits_with_the_tasks_exit_code_like_srun(cluster, user_env, tmp_path):
    cluster.start_agent("worker-1")
    failed = schedctl("submit", "--cpu", "0.5", "--mem", "64", "--follow", "--", "echo before; exit 3", env=user_env)
    assert failed.returncode == 3 and "before" in failed.stdout and "FAILED" in failed.stderr
    killed = schedctl("submit", "--cpu", "0.5", "--mem", "64", "--follow", "--", "kill -9 $$", env=user_env)
    assert killed.returncode == 137, killed.stderr  # 128 + SIGKILL, as a shell reports it

    follower, out, err = start_schedctl(tmp_path, "cancelled", "submit", "--cpu", "0.5", "--mem", "64", "--follow",
                                        "--", "echo started; sleep 300", env=user_env)
    wait_for(lambda: "started" in out.read_text(), timeout=30, what="the task to run")
    task_id = int(out.read_text().split()[1])
    assert cluster.api.post(f"{cluster.url}/api/v1/tasks/{task_id}/cancel", timeout=10).status_code == 200
    code = follower.wait(timeout=60)
    task = cluster.wait_task(task_id, "CANCELLED")
    assert code != 0 and code == exit_code_of(task), (code, task["exit_code"], err.read_text())


def test_cancel_takes_several_ids_and_says_what_happened_to_each(cluster, user_env):
    cluster.start_agent("worker-1")
    first, second = (cluster.submit("sleep 300", cpu=0.5, mem=64)["id"] for _ in range(2))
    done = cluster.submit("true", cpu=0.5, mem=64)["id"]
    cluster.wait_task(done, "SUCCEEDED")
    cluster.wait_task(first, "RUNNING")

    cancelled = schedctl("cancel", str(first), str(done), str(second), "999999", env=user_env)

    assert cancelled.returncode == 1  # two of the four could not be cancelled
    assert cancelled.stdout.splitlines() == [f"task {first} CANCELLED", f"task {second} CANCELLED"]
    assert f"task {done}: " in cancelled.stderr and "already SUCCEEDED" in cancelled.stderr
    assert "task 999999: not found" in cancelled.stderr
    assert cluster.task(first)["status"] == cluster.task(second)["status"] == "CANCELLED"


def test_a_reader_that_goes_away_ends_schedctl_quietly_with_141(cluster, user_env):
    cluster.start_agent("worker-1")
    chatty = cluster.submit("seq 1 200000", cpu=0.5, mem=64)["id"]
    slow = cluster.submit("for i in $(seq 1 2000); do echo $i; sleep 0.05; done", cpu=0.5, mem=64)["id"]
    cluster.wait_task(chatty, "SUCCEEDED")
    cluster.wait_task(slow, "RUNNING")
    python = f"{sys.executable} -m schedctl"
    # `true` reads nothing and is gone before schedctl has its answer: the first write meets a closed pipe.
    # `head -3` goes away after three lines of a log still being written.
    for pipeline in (f"{python} tasks | true", f"{python} logs {chatty} | true",
                     f"{python} logs {slow} --follow | head -3"):
        done = in_a_pipeline(pipeline, user_env)
        assert done.stderr == "", f"{pipeline}: {done.stderr}"
        assert done.stdout.splitlines()[-1] == f"status={EXIT_BROKEN_PIPE}", (pipeline, done.stdout[-300:])
    assert cluster.task(slow)["status"] == "RUNNING", "following stopped when its reader went away, not later"
    head = in_a_pipeline(f"{python} logs {chatty} | head -2", user_env)
    assert head.stdout.splitlines()[:2] == ["1", "2"] and head.stderr == ""
    assert head.stdout.splitlines()[-1] in ("status=0", f"status={EXIT_BROKEN_PIPE}")


def test_multi_line_commands_take_one_row_of_the_task_table(cluster, user_env):
    multi = cluster.submit("echo one\necho two\necho three", name="multi", cpu=0.5, mem=64)["id"]
    tabbed = cluster.submit("printf 'a\\tb'\r", name="tabbed", cpu=0.5, mem=64)["id"]
    listed = schedctl("tasks", env=user_env)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert len(rows) == 3, listed.stdout  # the header and one row per task
    row = next(r for r in rows if r.split()[0] == str(multi))
    assert row.endswith("echo one …")
    assert next(r for r in rows if r.split()[0] == str(tabbed)).endswith("printf 'a\\tb'\\r")
    assert os.linesep not in row
