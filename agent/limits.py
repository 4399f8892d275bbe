"""Memory limits for tasks.

Where the agent may write cgroup v2 (`memory` enabled in a writable cgroup's subtree_control, or
SCHEDULER_CGROUP_ROOT pointing at such a delegated cgroup), each task gets its own cgroup with
`memory.max` = its request and no swap; the kernel kills it past the limit and `memory.events`
says so. The task's shell moves itself into the cgroup before it runs the command, so no child
can escape by being forked first.

Elsewhere (this includes cgroup v1 hosts), a watchdog sums the resident memory of the task's
whole session every WATCHDOG_INTERVAL and kills the session when it exceeds the request (YARN's
container monitor works the same way). We chose this over an address-space rlimit: RLIMIT_AS
counts reserved, not used, memory, so it breaks ordinary programs (glibc reserves 64 MiB arenas
per thread, Go and the JVM reserve gigabytes up front) while a short spike can still beat a
sampling watchdog; the request is enforced on what the process really uses.
"""

from __future__ import annotations

import os
from pathlib import Path

WATCHDOG_INTERVAL = 0.1
MOVE_AND_EXEC = 'echo $$ > "$0/cgroup.procs" && exec /bin/sh -c "$1"'


def _cgroup_v2_root() -> Path | None:
    explicit = os.environ.get("SCHEDULER_CGROUP_ROOT")
    candidates = [Path(explicit)] if explicit else []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                candidates.append(Path("/sys/fs/cgroup") / line[3:].lstrip("/"))
    except OSError:
        pass
    for root in candidates:
        try:
            controllers = (root / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if "memory" in controllers and os.access(root, os.W_OK):
            return root
    return None


class CgroupV2Memory:
    kind = "cgroup-v2"

    def __init__(self, root: Path) -> None:
        self.root = root / "mini-scheduler"
        self.root.mkdir(exist_ok=True)

    def path(self, task: int, attempt: int) -> Path:
        return self.root / f"task-{task}-{attempt}"

    def wrap(self, task: int, attempt: int, mem_mib: int, command: str) -> list[str]:
        group = self.path(task, attempt)
        group.mkdir(exist_ok=True)
        (group / "memory.max").write_text(str(mem_mib * 1024 * 1024))
        try:
            (group / "memory.swap.max").write_text("0")
        except OSError:
            pass  # no swap accounting on this kernel
        return ["/bin/sh", "-c", MOVE_AND_EXEC, str(group), command]

    def oom_killed(self, task: int, attempt: int) -> bool:
        try:
            events = (self.path(task, attempt) / "memory.events").read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in events.splitlines() if line.strip())
        return int(counts.get("oom_kill", 0)) > 0

    def over_limit(self, rss_bytes: int, mem_mib: int) -> bool:
        return False  # the kernel enforces it

    def cleanup(self, task: int, attempt: int) -> None:
        try:
            self.path(task, attempt).rmdir()
        except OSError:
            pass


class SessionWatchdog:
    kind = "rss-watchdog"

    def wrap(self, task: int, attempt: int, mem_mib: int, command: str) -> list[str]:
        return ["/bin/sh", "-c", command]

    def oom_killed(self, task: int, attempt: int) -> bool:
        return False  # the executor knows when it killed for memory

    def over_limit(self, rss_bytes: int, mem_mib: int) -> bool:
        return rss_bytes > mem_mib * 1024 * 1024

    def cleanup(self, task: int, attempt: int) -> None:
        pass


def memory_limiter() -> CgroupV2Memory | SessionWatchdog:
    root = _cgroup_v2_root()
    if root is not None:
        try:
            return CgroupV2Memory(root)
        except OSError:
            pass
    return SessionWatchdog()
