"""Log retention: the stored output of finished tasks is kept SCHEDULER_LOG_RETENTION_DAYS days."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from tasks.models import TERMINAL_STATUSES, LogChunk, Task

BATCH = 500


def prune_finished_logs(*, days: int, dry_run: bool = False) -> tuple[int, int]:
    """Delete chunks of tasks finished before now - days; returns (tasks, chunks)."""
    cutoff = timezone.now() - timedelta(days=days)
    task_ids = list(
        Task.objects.filter(status__in=TERMINAL_STATUSES, finished_at__lt=cutoff, log_chunks__isnull=False)
        .values_list("pk", flat=True).distinct()
    )
    chunks = 0
    for start in range(0, len(task_ids), BATCH):
        batch = task_ids[start : start + BATCH]
        if dry_run:
            chunks += LogChunk.objects.filter(task_id__in=batch).count()
            continue
        with transaction.atomic():
            chunks += LogChunk.objects.filter(task_id__in=batch).delete()[0]
            Task.objects.filter(pk__in=batch).update(log_bytes=0)
    return len(task_ids), chunks
