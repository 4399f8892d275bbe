"""What keeps a task away from the agent's secrets: the Unix user tasks run as, and the working
directories they run in.

Run as root, the agent starts every task as an unprivileged user (`--task-user`, default
DEFAULT_TASK_USER, created with `useradd` when it does not exist): a task cannot read the agent's
environment (/proc/<agent>/environ), its state dir (0700: identity, process records, output
spools), or find another task's working directory. Run as any other user (or with `--task-user`
naming the agent's own user), tasks run as the agent's user and can read all of these; the agent
says so at start (one WARNING).

Working directories live outside the state dir, under a work root (`--work-dir`; default: a
directory made once under WORK_BASE, or WORK_BASE-<uid> for an agent not run as root, and recorded
in the state dir). The root is the agent's, mode
0711: a task can enter its own directory but cannot list the others; each attempt's directory is
`<task>-<attempt>-<random>`, mode 0700, owned by the task user, so another task can neither find
nor open it.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("agent.isolation")

DEFAULT_TASK_USER = "scheduler-task"
WORK_BASE = Path("/var/tmp/mini-scheduler")
NO_LOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")


class IsolationError(Exception):
    """The task user or the work root cannot be had; the message says which and why."""


@dataclass(frozen=True)
class TaskUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    def environment(self, workdir: Path) -> dict[str, str]:
        """USER, LOGNAME and HOME of the task user (HOME: the working directory when it has none)."""
        home = self.home if self.home and os.path.isdir(self.home) else str(workdir)
        return {"USER": self.name, "LOGNAME": self.name, "HOME": home}


def running_as_root() -> bool:
    return os.geteuid() == 0


def _create_user(name: str) -> None:
    shell = next((path for path in NO_LOGIN_SHELLS if os.path.exists(path)), "/bin/false")
    command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", shell, "--comment", "mini-scheduler tasks", name]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise IsolationError(f"cannot create the task user {name!r}: useradd is not installed "
                             "(create the user, or pass --task-user)") from None
    except subprocess.CalledProcessError as error:
        if error.returncode != 9:  # 9: the user exists (another agent made it meanwhile)
            raise IsolationError(f"cannot create the task user {name!r}: {error.stderr.strip()}") from None
    log.info("task user created", extra={"user": name})


def task_user(requested: str | None) -> TaskUser | None:
    """The user tasks run as: None when they run as the agent's own user (the agent is not root)."""
    own = pwd.getpwuid(os.geteuid()).pw_name
    if requested == own:
        return None  # asked for explicitly (a harness whose tasks need the agent's files): the agent warns
    if not running_as_root():
        if requested:
            raise IsolationError(f"--task-user {requested}: running tasks as another user needs the agent to "
                                 "run as root")
        return None
    name = requested or DEFAULT_TASK_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if requested:
            raise IsolationError(f"--task-user: there is no user {name!r}") from None
        _create_user(name)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise IsolationError(f"--task-user: {name!r} has uid 0; tasks need an unprivileged user")
    groups = tuple(gid for gid in os.getgrouplist(name, entry.pw_gid) if gid != 0)
    return TaskUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups, home=entry.pw_dir)


def describe(user: TaskUser | None) -> str:
    if user is None:
        return pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(user.gid).gr_name
    return f"{user.name} (uid {user.uid}, group {group})"


def _safe_dir(path: Path, mode: int) -> None:
    """Make `path` (or find it) as a directory of ours or root's that no one else may write."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022:
        raise IsolationError(f"{path} must be a directory of this user's or root's that no one else may write "
                             "(pass --work-dir)")


class WorkRoot:
    """Each attempt's working directory: made before the task starts, removed once it is settled."""

    def __init__(self, root: Path, user: TaskUser | None) -> None:
        self.root = Path(root)
        self.user = user
        try:
            _safe_dir(self.root, 0o711)
            os.chmod(self.root, 0o711)
        except OSError as error:
            raise IsolationError(f"--work-dir {self.root}: {error.strerror}") from None

    @classmethod
    def for_state_dir(cls, state_root: Path, requested: str | None, user: TaskUser | None) -> WorkRoot:
        """`requested` (--work-dir), or the one recorded in the state dir, or a new one under WORK_BASE."""
        if requested:
            return cls(Path(requested), user)
        record = Path(state_root) / "workroot"
        try:
            recorded = record.read_text().strip()
        except FileNotFoundError:
            recorded = ""
        if recorded and Path(recorded).is_dir():
            return cls(Path(recorded), user)
        base = WORK_BASE if running_as_root() else WORK_BASE.with_name(f"{WORK_BASE.name}-{os.geteuid()}")
        try:
            _safe_dir(base, 0o755)
            made = Path(tempfile.mkdtemp(prefix=f"{Path(state_root).name}-", dir=base))
        except OSError as error:
            raise IsolationError(f"cannot make a work root under {base}: {error.strerror} (pass --work-dir)") from None
        record.write_text(f"{made}\n")
        return cls(made, user)

    def create(self, task: int, attempt: int) -> Path:
        path = self.root / f"{task}-{attempt}-{secrets.token_hex(8)}"
        path.mkdir(mode=0o700)
        if self.user is not None:
            os.chown(path, self.user.uid, self.user.gid)
        return path

    def drop(self, task: int, attempt: int) -> None:
        for path in self.root.glob(f"{task}-{attempt}-*"):
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """The agent stops: an empty root goes (the next life makes another)."""
        try:
            self.root.rmdir()
        except OSError:
            pass  # a task's directory is still there, or the root is not ours to remove
