"""The holds of batch workloads (registered with `tasks.placement.holds` by `tasks.apps`), each
answering for a batch of PENDING tasks in a bounded number of queries:

- Dependency: "Waiting for task 12, 13" while a dependency has not finished
  (`tasks.batch.dependencies`);
- Backoff: a retry waits until `not_before` (no query: the fields are on the task);
- Throttle: an array's `%N` is full (`tasks.batch.arrays`).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

from scheduler_site.formats import iso
from scheduler_site.statuses import WaitReason
from tasks.models import Task
from tasks.placement import holds, queue


def backoff(tasks: Sequence[Task]) -> dict[int, str]:
    """Tasks whose next retry is not due yet. The message is the one the requeue wrote ('Retrying in
    20 s after exit code 3 (retry 2 of 3).'): fixed while it waits, so it is noted once."""
    now = timezone.now()
    waiting = {}
    for task in tasks:
        if task.not_before is not None and task.not_before > now:
            same = task.status_reason == WaitReason.BACKOFF and task.status_message
            waiting[task.pk] = task.status_message if same else f"Retrying at {iso(task.not_before)}."
    return waiting


_registered: list[holds.Hold] = []


def register() -> None:
    """Register the batch holds once (the app's ready())."""
    if _registered:
        return
    from tasks.batch import arrays, dependencies

    _registered.extend([
        holds.register(WaitReason.DEPENDENCY, dependencies.waiting),
        holds.register(WaitReason.BACKOFF, backoff),
        holds.register(WaitReason.THROTTLE, arrays.throttled),
    ])
    queue.SKIP.append(arrays.beyond_free_slots)
