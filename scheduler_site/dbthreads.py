"""Database work from async code (consumers), on the shared thread pool.

Channels' `database_sync_to_async` runs everything on one thread per process unless a request
context exists; every agent and browser socket would then queue behind each other's queries.
These calls run on the executor's pool instead (ASGI_THREADS sets its size) and keep Django's
connection hygiene (old connections closed per CONN_MAX_AGE, before and after each call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.db import DatabaseSyncToAsync


def db_call(func: Callable[..., Any]) -> Callable[..., Any]:
    return DatabaseSyncToAsync(func, thread_sensitive=False)
