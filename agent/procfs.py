"""Per-session figures from /proc: resident memory, CPU time and the processes of a task.

Each task runs in its own session (`setsid`), so the session id names the task and catches its
children and grandchildren too. One pass over /proc serves every task at once.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class SessionFigures:
    rss_bytes: int = 0
    cpu_seconds: float = 0.0
    pids: list[int] = field(default_factory=list)


def parse_stat(text: str) -> tuple[int, int, float] | None:
    """(session, rss_bytes, cpu_seconds) from the text of /proc/<pid>/stat."""
    end = text.rfind(")")
    if end < 0:
        return None
    fields = text[end + 2 :].split()
    if len(fields) < 22:
        return None
    # After "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice threads itreal starttime vsize rss
    session = int(fields[3])
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return session, int(fields[21]) * PAGE, ticks / CLOCK_TICKS


def scan_sessions(sessions: set[int]) -> dict[int, SessionFigures]:
    """Figures for each session in `sessions` (absent when it has no process left)."""
    figures: dict[int, SessionFigures] = defaultdict(SessionFigures)
    if not sessions:
        return {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                parsed = parse_stat(handle.read())
        except OSError:
            continue  # the process ended while we looked
        if parsed is None or parsed[0] not in sessions:
            continue
        session, rss, cpu = parsed
        figure = figures[session]
        figure.rss_bytes += rss
        figure.cpu_seconds += cpu
        figure.pids.append(int(entry.name))
    return dict(figures)
