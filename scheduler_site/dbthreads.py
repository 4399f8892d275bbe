"""Database work from async code (consumers), on the shared thread pool.

Channels' `database_sync_to_async` runs everything on one thread per process unless a request
context exists; every agent and browser socket would then queue behind each other's queries.
These calls run on the executor's pool instead (ASGI_THREADS sets its size) and keep Django's
connection hygiene (old connections closed per CONN_MAX_AGE, before and after each call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import DatabaseSyncToAsync
from django.db import connection


def db_call(func: Callable[..., Any]) -> Callable[..., Any]:
    return DatabaseSyncToAsync(func, thread_sensitive=False)


def _hot(func: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception:
            connection.close()  # a broken connection is replaced on the next call
            raise

    return run


def db_call_hot(func: Callable[..., Any]) -> Callable[..., Any]:
    """For a hot path called many times a second: no connection health check per call (Django's
    CONN_HEALTH_CHECKS would add a round trip to every call); a failing call drops its connection."""
    return sync_to_async(_hot(func), thread_sensitive=False)
