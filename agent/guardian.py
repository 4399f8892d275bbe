"""The guardian: a small process that kills every task of the agent when the agent dies.

Linux's parent-death signal reaches only a direct child and fires when the spawning *thread*
exits; a task's grandchildren (a `sleep` in a subshell) would outlive a killed agent. So the
agent starts this process in a session of its own and tells it, over a pipe, the process group
of each task it starts ("+PGID") and ends ("-PGID"). When the pipe reaches end-of-file (the
agent exited, however it died, kill -9 included), the guardian kills every group it still
knows and exits. It ignores SIGINT/SIGTERM/SIGHUP so that a signal to the terminal or the
agent's group does not take it first.

It also holds the agent's lease (agent.lease): "L<seconds>" renews it for that long. When a
renewal is late (the agent is frozen, or has heard no master for the lease), the guardian kills
every group it knows, as when the agent dies, and goes on serving the agent.

Run as `python -m agent.guardian` (the agent does this); the protocol is one line per group or
renewal.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable


def _kill_all(groups: set[int]) -> None:
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass


def _lines(fd: int, until: Callable[[], float | None]):
    """Lines from `fd`; None each time the deadline `until()` passes with no line; ends at EOF."""
    pending = b""
    while True:
        deadline = until()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            yield None
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace").strip()


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    lease: dict[str, float | None] = {"until": None}  # read by _lines at each wait
    for line in _lines(sys.stdin.fileno(), lambda: lease["until"]):
        if line is None:  # the lease ran out: the agent is frozen or cut off from the masters
            _kill_all(groups)
            groups.clear()
            lease["until"] = None  # until the agent renews it again
            continue
        if len(line) < 2:
            continue
        if line[0] == "L":
            try:
                lease["until"] = time.monotonic() + float(line[1:])
            except ValueError:
                pass
            continue
        if not line[1:].isdigit():
            continue
        group = int(line[1:])
        if line[0] == "+":
            groups.add(group)
        elif line[0] == "-":
            groups.discard(group)
    _kill_all(groups)


class Guardian:
    """The agent's handle on its guardian process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "agent.guardian"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join(sys.path)},
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def _tell(self, line: str) -> None:
        with self._lock:
            try:
                self._process.stdin.write(f"{line}\n".encode())
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the guardian is gone; the state dir still lets the next life clean up

    def watch(self, group: int) -> None:
        self._tell(f"+{group}")

    def forget(self, group: int) -> None:
        self._tell(f"-{group}")

    def lease(self, seconds: float) -> None:
        """Renew the lease: kill every task unless renewed again within `seconds`."""
        self._tell(f"L{seconds:.3f}")

    def close(self) -> None:
        """Normal shutdown: the agent has stopped its tasks itself; let the guardian go."""
        with self._lock:
            try:
                self._process.stdin.close()
            except OSError:
                pass
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()


if __name__ == "__main__":
    main()
