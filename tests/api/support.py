"""Helpers shared by the API tests: clients for a raw token, raw JSON bodies, and row counts."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from rest_framework.test import APIClient

from nodes.models import Node, NodeEvent
from scheduler_site.models import ApiToken
from tasks.models import LogChunk, Task, TaskEvent

TASK_FIELDS = {
    "id", "name", "command", "cpu", "mem", "status", "node", "node_name", "attempt", "max_attempts",
    "exit_code", "created_at", "started_at", "finished_at",
}
NODE_FIELDS = {
    "id", "name", "status", "draining", "labels", "cpu", "mem", "cpu_allocated", "mem_allocated", "cpu_free",
    "mem_free", "cpu_usage", "mem_usage", "last_heartbeat", "tasks_running",
}


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def post_raw(client: APIClient, path: str, body: str | bytes, content_type: str = "application/json"):
    """POST a body exactly as given (broken JSON, NaN, lone surrogates: what `format="json"` cannot send)."""
    return client.post(path, data=body, content_type=content_type)


def row_counts() -> dict[str, int]:
    """How many rows each table the API writes to holds: equal before and after means nothing was written."""
    models = (Task, TaskEvent, LogChunk, Node, NodeEvent, ApiToken, User, Session)
    return {model.__name__: model.objects.count() for model in models}


def both_slashes(*paths: str) -> list[str]:
    """Every path as written and with a trailing slash (the API answers both the same)."""
    return [variant for path in paths for variant in (path.rstrip("/"), path.rstrip("/") + "/")]
