"""`/healthz`: the process is up and its database answers (for load balancers and `make demo`).

On a master, `/healthz` is answered by the HTTP handler on the event loop (`answer`), before the
request would queue for an HTTP thread: it checks the database on a connection of its own, in a
thread of its own, so it answers while every HTTP thread and every pooled connection is busy (a
slow database, a flood of requests), and says how busy the master is. A check that takes longer
than `CHECK_TIMEOUT` answers 503; checks asked for while one is running share its answer. The
Django view (`healthz`) answers the same way for Django's test client and any other handler.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import connection, connections
from django.http import HttpRequest, JsonResponse

CHECK_TIMEOUT = 3.0  # seconds: a database slower than this to answer `SELECT 1` is unhealthy


def database_status(db: Any) -> tuple[int, dict]:
    """(HTTP status, body) of `SELECT 1` on the Django connection `db`."""
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # report, do not raise: this is what the endpoint is for
        try:
            db.close()  # reconnect on the next check
        except Exception:
            pass
        return 503, {"status": "error", "database": str(exc) or type(exc).__name__}
    return 200, {"status": "ok", "database": db.vendor}


def healthz(request: HttpRequest) -> JsonResponse:
    status, body = database_status(connection)
    return JsonResponse(body, status=status)


class HealthCheck:
    """The master's own check: one thread, one unpooled connection, one check at a time."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")
        self._db: Any = None
        self._running: Future | None = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        if self._db is None:  # created in the check's thread: Django connections are not shared
            base = connections["default"]
            settings = copy.deepcopy(base.settings_dict)
            options = settings.setdefault("OPTIONS", {})
            options.pop("pool", None)
            if base.vendor == "postgresql":
                options["connect_timeout"] = max(1, int(CHECK_TIMEOUT))
            settings["CONN_MAX_AGE"] = None
            self._db = type(base)(settings, alias="healthz")
        return self._db

    def _check(self) -> tuple[int, dict]:
        return database_status(self._connection())

    def start(self) -> Future:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = self._thread.submit(self._check)
            return self._running

    async def answer(self, send, extra: dict) -> None:
        try:
            status, body = await asyncio.wait_for(asyncio.wrap_future(self.start()), CHECK_TIMEOUT)
        except TimeoutError:
            status, body = 503, {"status": "error", "database": f"no answer to SELECT 1 within {CHECK_TIMEOUT:g} s"}
        payload = json.dumps({**body, **extra}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def pool_stats() -> dict | None:
    """The PostgreSQL connection pool's size, idle connections and waiting requests (None: no pool)."""
    pool = getattr(connections["default"], "pool", None)
    if not pool:
        return None
    stats = pool.get_stats()
    return {"size": stats.get("pool_size", 0), "idle": stats.get("pool_available", 0),
            "waiting": stats.get("requests_waiting", 0)}
