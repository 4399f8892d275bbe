"""Retries: whether a failed attempt is retried, and when. The k-th retry waits
`retry_backoff * 2**(k-1)` seconds, capped at `retry_backoff_max`, less a jitter of at most 10 %
(so the cap is never exceeded and runs that failed together spread out). The requeue itself is
`tasks.recovery.requeue(..., charge="retry")`; the wait is the Backoff hold (`tasks.batch.holds`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Min
from django.utils import timezone

from scheduler_site.statuses import TaskStatus
from tasks.models import Task

MAX_RETRIES = 100
JITTER = 0.10  # at most this fraction of the wait is taken off at random
FAILURE_REASONS = ("Failed", "Timeout", "OOMKilled")  # a failure of the command itself: retried


def backoff_seconds(retry: int, *, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """How long the `retry`-th retry (1 for the first) waits: base * 2**(retry-1), capped, minus up
    to 10 % jitter."""
    if retry < 1:
        raise ValueError("retries count from 1")
    ideal = min(cap, base * 2 ** min(retry - 1, 64))
    return ideal * (1 - JITTER * rand())


def wants_retry(task: Task, *, exit_code: int | None) -> bool:
    """A failed attempt (non-zero exit, Timeout, OOMKilled) is retried while retries are left and,
    when `retry_on_exit_codes` is set, only for an exit code in it (whatever killed the command)."""
    if task.retries_used >= task.retries:
        return False
    codes = task.retry_on_exit_codes
    return not codes or exit_code in codes


def cause(reason: str, exit_code: int | None) -> str:
    """How an attempt failed, for the Backoff message: 'exit code 3', 'a timeout (exit code 137)'."""
    if reason == "Timeout":
        return f"a timeout (exit code {exit_code})"
    if reason == "OOMKilled":
        return f"being OOM-killed (exit code {exit_code})"
    return f"exit code {exit_code}"


def schedule_retry(task: Task, *, reason: str, exit_code: int | None, now: datetime | None = None) -> str:
    """Spend one retry of `task` (in memory; the caller's transition saves it) and return the
    Backoff message: 'Retrying in 20 s after exit code 3 (retry 2 of 3).'"""
    now = now or timezone.now()
    task.retries_used += 1
    delay = backoff_seconds(task.retries_used, base=task.retry_backoff, cap=task.retry_backoff_max)
    task.not_before = now + timedelta(seconds=delay)
    return (f"Retrying in {delay:.3g} s after {cause(reason, exit_code)} "
            f"(retry {task.retries_used} of {task.retries}).")


def next_due(now: datetime | None = None) -> datetime | None:
    """When the earliest pending retry comes due (a placement pass must run then), or None."""
    now = now or timezone.now()
    return (Task.objects.filter(status=TaskStatus.PENDING, not_before__gt=now)
            .aggregate(due=Min("not_before"))["due"])
