"""Fair share: each owner's recent usage of the cluster, the queue's second key (after priority,
before age): among pending tasks of equal priority, the owner who used less recently goes first.

Usage is CPU-seconds (the cores a task reserved times how long its attempt held them), decayed
with a half-life (`SCHEDULER_FAIR_SHARE_HALF_LIFE`, default 1 h, like Slurm's
PriorityDecayHalfLife). It is kept cheaply, one row per owner (`OwnerUsage`):
- `charge` adds an attempt's CPU-seconds when the attempt ends (in the transaction of the task's
  transition out of ASSIGNED/RUNNING, `tasks.states`), never recomputed over the history;
- `decay_all` (the sweeper, at most every `SCHEDULER_FAIR_SHARE_DECAY_EVERY`) decays every row to
  now, each by its own age, so several sweepers do not decay twice.
The queue orders by the stored figure (`queue_key`, a LEFT JOIN from the task to its owner's row);
a charge made since the row's last decay is not decayed yet, an error of at most
DECAY_EVERY / HALF_LIFE of it (under 2 % with the defaults). `recent_usage` decays to the moment.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, FloatField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from scheduler_site.sql import update_from_values
from tasks.models import OwnerUsage, Task

QUEUE_KEY = "fair_share"  # the annotation's name in the queue
NEGLIGIBLE = 1e-3  # cpu-seconds below this are forgotten (the row drops to 0)


def half_life() -> float:
    return float(settings.SCHEDULER_FAIR_SHARE_HALF_LIFE)


def decayed(value: float, since: datetime, now: datetime) -> float:
    age = max(0.0, (now - since).total_seconds())
    return value * 0.5 ** (age / half_life())


def attempt_cpu_seconds(task: Task, now: datetime) -> float:
    """What the attempt now ending used: its reserved cores times how long it held them."""
    began = task.started_at or task.assigned_at
    if began is None:
        return 0.0
    return task.cpu / 1000 * max(0.0, (now - began).total_seconds())


def charge(task: Task, now: datetime) -> None:
    """Add the ending attempt's CPU-seconds to its owner's recent usage (one UPDATE; an INSERT the
    first time)."""
    if task.submitter_id is None:
        return
    amount = attempt_cpu_seconds(task, now)
    if amount <= 0:
        return
    if OwnerUsage.objects.filter(user_id=task.submitter_id).update(cpu_seconds=F("cpu_seconds") + amount):
        return
    with transaction.atomic():  # a savepoint: another transaction may insert the row first
        _, created = OwnerUsage.objects.get_or_create(
            user_id=task.submitter_id, defaults={"cpu_seconds": amount, "decayed_at": now})
    if not created:
        OwnerUsage.objects.filter(user_id=task.submitter_id).update(cpu_seconds=F("cpu_seconds") + amount)


def decay_all(now: datetime | None = None) -> int:
    """Decay every owner's figure to `now` (rows locked, one batched UPDATE). Returns how many rows."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(OwnerUsage.objects.select_for_update().order_by("pk").values_list("pk", "cpu_seconds",
                                                                                      "decayed_at"))
        changes = []
        for row_id, value, since in rows:
            if since >= now:
                continue
            new = decayed(value, since, now)
            changes.append((row_id, new if new >= NEGLIGIBLE else 0.0))
        if changes:
            update_from_values(OwnerUsage._meta.db_table, columns=[("id", "bigint"), ("v", "double precision")],
                               rows=changes, set_sql="cpu_seconds = v.v")
            OwnerUsage.objects.filter(pk__in=[row_id for row_id, _ in changes]).update(decayed_at=now)
    return len(changes)


def recent_usage(user_id: int | None, now: datetime | None = None) -> float:
    """An owner's recent usage in CPU-seconds, decayed to now."""
    if user_id is None:
        return 0.0
    row = OwnerUsage.objects.filter(user_id=user_id).values_list("cpu_seconds", "decayed_at").first()
    if row is None:
        return 0.0
    return round(decayed(row[0], row[1], now or timezone.now()), 3)


def queue_key_expression():
    """The queue's fair-share key: the owner's stored recent usage (0 without an owner or a row)."""
    return Coalesce(F("submitter__usage__cpu_seconds"), Value(0.0), output_field=FloatField())


_last_decay: float = float("-inf")


def maybe_decay(now: datetime | None = None) -> int:
    """The sweeper's call: decay at most every SCHEDULER_FAIR_SHARE_DECAY_EVERY seconds."""
    global _last_decay
    if time.monotonic() - _last_decay < settings.SCHEDULER_FAIR_SHARE_DECAY_EVERY:
        return 0
    _last_decay = time.monotonic()
    return decay_all(now)
