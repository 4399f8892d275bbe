"""Data: give log chunks stored with a non-finite `ts` (NaN, Infinity, -Infinity, accepted from
agents before the protocol refused them; they made the task's log API answer 500) a finite one:
the nearest earlier finite chunk of the same attempt, else the nearest later one, else when the
task started (or was created). Nothing to undo: the reverse leaves the repaired values."""

import math

from django.db import migrations
from django.db.models import Q

LARGEST = 1.7976931348623157e308  # the largest finite double: only infinities lie beyond


def _fallback(task) -> float:
    when = task.started_at or task.created_at
    return when.timestamp()


def repair(apps, schema_editor):
    LogChunk = apps.get_model("tasks", "LogChunk")
    bad = Q(ts__gt=LARGEST) | Q(ts__lt=-LARGEST)
    if schema_editor.connection.vendor == "postgresql":
        bad |= Q(ts=float("nan"))  # PostgreSQL keeps NaN (equal to itself); SQLite stores none (NULL)
    for chunk in LogChunk.objects.filter(bad).select_related("task").order_by("pk").iterator():
        siblings = LogChunk.objects.filter(task_id=chunk.task_id, attempt=chunk.attempt).exclude(pk=chunk.pk)
        finite = None
        for neighbour in (siblings.filter(seq__lt=chunk.seq).order_by("-seq"), siblings.filter(seq__gt=chunk.seq)
                          .order_by("seq")):
            finite = next((c.ts for c in neighbour.only("ts")[:50] if math.isfinite(c.ts)), None)
            if finite is not None:
                break
        LogChunk.objects.filter(pk=chunk.pk).update(ts=finite if finite is not None else _fallback(chunk.task))


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_initial")]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop)]
