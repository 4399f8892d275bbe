"""The task user and the work root on their own (the cluster test `test_task_isolation` shows a
hostile task refused)."""

from __future__ import annotations

import base64
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.isolation import IsolationError, WorkRoot, task_user
from agent.limits import SessionWatchdog
from agent.spawning import Spawner, TaskSpec, task_environment
from agent.spool import AttemptSpool, SpoolBudget

ROOT = os.geteuid() == 0
ROOT_DIR = Path(__file__).resolve().parents[2]


def test_not_root_tasks_run_as_the_agents_user_and_another_user_is_refused() -> None:
    if ROOT:
        pytest.skip("as root, tasks run as a user of their own")
    assert task_user(None) is None
    assert task_user(pwd.getpwuid(os.geteuid()).pw_name) is None
    with pytest.raises(IsolationError, match="needs the agent to run as root"):
        task_user("nobody")


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_as_root_the_default_task_user_is_found_or_made_and_root_only_on_request() -> None:
    user = task_user(None)
    assert user is not None and user.name == "scheduler-task" and user.uid != 0 and 0 not in user.groups
    assert task_user("root") is None, "asked for by name: tasks run as the agent's user (it warns)"
    with pytest.raises(IsolationError, match="no user"):
        task_user("no-such-user-here")


def test_working_directories_are_private_unlisted_and_unguessable(tmp_path: Path) -> None:
    work = WorkRoot(tmp_path / "work", None)
    first, second = work.create(1, 1), work.create(1, 1)
    assert first != second and first.name.startswith("1-1-") and len(first.name) > len("1-1-") + 8
    assert stat.S_IMODE((tmp_path / "work").stat().st_mode) == 0o711
    assert stat.S_IMODE(first.stat().st_mode) == 0o700
    other = work.create(1, 10)
    work.drop(1, 1)
    assert not first.exists() and not second.exists() and other.exists()
    work.drop(1, 10)
    work.close()
    assert not (tmp_path / "work").exists()


def test_a_work_root_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(IsolationError, match="no one else may write"):
        WorkRoot(shared, None)


def test_the_work_root_is_made_once_and_found_again(tmp_path: Path, monkeypatch) -> None:
    import agent.isolation as isolation

    monkeypatch.setattr(isolation, "WORK_BASE", tmp_path / "base")
    state = tmp_path / "state"
    state.mkdir()
    first = WorkRoot.for_state_dir(state, None, None)
    again = WorkRoot.for_state_dir(state, None, None)
    assert first.root == again.root and first.root.parent == tmp_path / "base"
    assert WorkRoot.for_state_dir(state, str(tmp_path / "chosen"), None).root == tmp_path / "chosen"


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_a_task_runs_as_the_task_user_with_its_names_and_writes_its_directory(tmp_path: Path) -> None:
    user = task_user(None)
    work = WorkRoot(tmp_path / "work", user)
    workdir = work.create(5, 1)
    spool = AttemptSpool(tmp_path / "spool", 5, 1, SpoolBudget(1 << 30))
    spawner = Spawner(node_name="n1", limiter=SessionWatchdog(), user=user)
    running = spawner.spawn(TaskSpec(task=5, attempt=1, command='id -u; echo "$USER $HOME"; echo hi > f; cat f'),
                            spool=spool, workdir=workdir)
    running.process.wait(timeout=30)
    os.close(running.pidfd)
    spool.close()
    text = b"".join(base64.b64decode(chunk["b64"]) for chunk in spool.unsent(1 << 20)).decode()
    assert text.splitlines() == [str(user.uid), f"{user.name} {workdir}", "hi"], text
    env = task_environment(TaskSpec(task=5, attempt=1, command=""), "n1", user=user, workdir=workdir)
    assert env["USER"] == env["LOGNAME"] == user.name


def test_runworker_refuses_a_join_token_on_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT_DIR / "manage.py"), "runworker", "--master", "http://127.0.0.1:9",
         "--join-token", "on-the-command-line-0123"],
        capture_output=True, text=True, timeout=60, cwd=ROOT_DIR,
        env={k: v for k, v in os.environ.items() if k != "SCHEDULER_JOIN_TOKEN"},
    )
    assert result.returncode != 0
    assert "every user of this machine can read a command line" in result.stderr


class GatedLimiter(SessionWatchdog):
    """A limiter that, like cgroup v2 for a task user, must place the shell before it runs anything."""

    kind = "test-gated"
    needs_admit = True

    def __init__(self) -> None:
        self.admitted: list[tuple[int, float]] = []

    def wrap(self, task: int, attempt: int, mem_mib: int, command: str, *, gated: bool = False) -> list[str]:
        from agent.limits import WAIT_AND_EXEC

        assert gated
        return ["/bin/sh", "-c", WAIT_AND_EXEC, command]

    def admit(self, task: int, attempt: int, pid: int) -> None:
        import time

        time.sleep(0.3)  # the command must not run meanwhile
        self.admitted.append((pid, time.time()))


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_a_task_users_shell_waits_until_the_limiter_has_placed_it(tmp_path: Path) -> None:
    user = task_user(None)
    limiter = GatedLimiter()
    work = WorkRoot(tmp_path / "work", user)
    workdir = work.create(6, 1)
    spool = AttemptSpool(tmp_path / "spool", 6, 1, SpoolBudget(1 << 30))
    spawner = Spawner(node_name="n1", limiter=limiter, user=user)
    running = spawner.spawn(TaskSpec(task=6, attempt=1, command="date +%s.%N; echo $$; read x; echo x=$x"),
                            spool=spool, workdir=workdir)
    running.process.wait(timeout=30)
    os.close(running.pidfd)
    spool.close()
    lines = b"".join(base64.b64decode(chunk["b64"]) for chunk in spool.unsent(1 << 20)).decode().splitlines()
    assert limiter.admitted and limiter.admitted[0][0] == running.pid
    assert float(lines[0]) >= limiter.admitted[0][1], "the command ran before its shell was placed"
    assert lines[1:] == [str(running.pid), "x="], lines  # the same process; stdin is /dev/null
