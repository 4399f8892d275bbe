"""The migration to byte chunks keeps every stored text as its UTF-8 bytes (backslashes too, which a
PostgreSQL `::bytea` cast would read as escapes) and numbers the stored lines, on the store under test."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tasks", "0006_users")]
AFTER = [("tasks", "0007_log_bytes")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_text_chunks_become_their_bytes_with_line_numbers():
    old = migrate(BEFORE)
    Task = old.get_model("tasks", "Task")
    LogChunk = old.get_model("tasks", "LogChunk")
    task = Task.objects.create(name="t", command="true", cpu=100, mem=16)
    texts = [(1, "a\\nb\\\\x00 é\n"), (1, "partial"), (2, "err\n"), (1, " rest\nlast\n")]
    for seq, (stream, text) in enumerate(texts):
        LogChunk.objects.create(task=task, attempt=1, seq=seq, stream=stream, data=text, ts=1.0)
    try:
        new = migrate(AFTER)
        chunks = new.get_model("tasks", "LogChunk").objects.order_by("seq")
        rows = list(chunks.values_list("data", "cont", "line", "lines"))
        assert [bytes(r[0]) for r in rows] == [text.encode() for _, text in texts]
        assert [r[1:] for r in rows] == [(False, 0, 1), (False, 1, 1), (False, 2, 1), (True, 3, 1)]
    finally:
        migrate([("tasks", "0007_log_bytes")])
