"""The data migration that gives non-finite stored log timestamps a finite value (they made the
task's log API answer 500 for ever), on the store under test."""

from __future__ import annotations

import importlib
import math
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from tasks.models import LogChunk, TaskStatus
from tests import builders

pytestmark = pytest.mark.django_db
migration = importlib.import_module("tasks.migrations.0002_finite_log_timestamps")


def chunk(task, seq: int, ts: float, attempt: int = 1) -> LogChunk:
    return LogChunk.objects.create(task=task, attempt=attempt, seq=seq, stream=1, data=f"{seq}\n".encode(), ts=ts)


def test_non_finite_timestamps_take_a_neighbours_or_the_tasks_start(api):
    node = builders.node()
    task = builders.task_in(TaskStatus.RUNNING, on=node)
    chunk(task, 0, 1000.0)
    after_good = chunk(task, 1, math.inf)
    before_good = chunk(task, 0, -math.inf, attempt=2)
    chunk(task, 1, 2000.0, attempt=2)
    alone = chunk(task, 0, math.inf, attempt=3)
    nan = chunk(task, 1, math.nan, attempt=3) if connection.vendor == "postgresql" else None

    migration.repair(apps, SimpleNamespace(connection=connection))

    fixed = {c.pk: c.ts for c in LogChunk.objects.all()}
    assert fixed[after_good.pk] == 1000.0
    assert fixed[before_good.pk] == 2000.0
    assert fixed[alone.pk] == task.started_at.timestamp()
    if nan is not None:
        assert fixed[nan.pk] == task.started_at.timestamp()
    assert all(math.isfinite(ts) for ts in fixed.values())
    response = api.get(f"/api/v1/tasks/{task.pk}/logs?attempt=1")
    assert response.status_code == 200
    assert [c["ts"] for c in response.json()["chunks"]] == [1000.0, 1000.0]
