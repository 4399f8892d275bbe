"""The agent's state dir: its node identity, and a record of every process it started.

    identity.json                 {master, name, node_id, token}          (mode 0600)
    procs/<task>-<attempt>.json   {task, attempt, pid, create_time, exit_code, reason}
    spool/<task>-<attempt>/       output, see agent.spool
    workroot                      where the tasks' working directories are (agent.isolation)

The directory is the agent's alone (mode 0700): a task (run as another user) cannot read its
identity, records or another task's output. Tasks work elsewhere (agent.isolation.WorkRoot).

A process record is written before the process starts and removed once the master has taken
the task's end; a restarted agent reads the records to kill what its previous life left running
and to report those attempts.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Identity:
    master: str
    name: str
    node_id: int
    token: str


@dataclass
class ProcessRecord:
    task: int
    attempt: int
    pid: int | None = None
    create_time: float | None = None  # psutil's, to tell our process from a reused pid
    exit_code: int | None = None
    reason: str | None = None

    @property
    def key(self) -> str:
        return f"{self.task}-{self.attempt}"


def _write_atomic(path: Path, data: dict, *, mode: int = 0o644, durable: bool = False) -> None:
    """Write-then-rename, so a reader never sees half a file. Process records need no fsync: they
    guard against the agent dying, not the machine (whose death takes the processes too)."""
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}-{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.procs = self.root / "procs"
        self.spool = self.root / "spool"
        for directory in (self.root, self.procs, self.spool):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        identity = self.root / "identity.json"
        if identity.exists():
            os.chmod(identity, 0o600)  # written by an older version with a looser mode
        shutil.rmtree(self.root / "work", ignore_errors=True)  # older versions' working directories

    # identity -----------------------------------------------------------------------------

    def load_identity(self) -> Identity | None:
        path = self.root / "identity.json"
        try:
            return Identity(**json.loads(path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def save_identity(self, identity: Identity) -> None:
        _write_atomic(self.root / "identity.json", asdict(identity), mode=0o600, durable=True)

    # process records ----------------------------------------------------------------------

    def save_process(self, record: ProcessRecord) -> None:
        _write_atomic(self.procs / f"{record.key}.json", asdict(record))

    def drop_process(self, task: int, attempt: int) -> None:
        try:
            (self.procs / f"{task}-{attempt}.json").unlink()
        except FileNotFoundError:
            pass

    def load_processes(self) -> list[ProcessRecord]:
        records = []
        for path in sorted(self.procs.glob("*.json")):
            try:
                records.append(ProcessRecord(**json.loads(path.read_text())))
            except (ValueError, TypeError):
                path.unlink(missing_ok=True)
        return records
