"""Django's HTTP handling under ASGI in one thread hop per request, on a fixed pool of threads.

Django's own ASGIHandler runs the middleware chain in async mode: with sync middleware and sync
views (all of ours) that is a hop into a thread for the chain, a hop back to the event loop for
the view's adapter and a hop into the thread again for the view, plus a hop for each of the
request_started/finished signals; and every request gets a thread of its own (asgiref's
ThreadSensitiveContext), so a persistent database connection (thread-local in Django) was opened
anew for every request. Measured on `GET /api/v1/nodes`, these were most of a request's time.

Here the body is read on the event loop, then signals, middleware (loaded in sync mode), view and
`response.close()` run as one call on a pool of long-lived threads, whose connections persist
(CONN_MAX_AGE); only the response is sent back on the loop. Streaming responses (the raw log
download) are sent as Django sends them, in a thread-sensitive context of their own.

Failure and overload (docs/reliability.md, findings 1 and overload):
- whatever happens to the request's coroutine (its client gave up, daphne killed the application
  instance after `application_close_timeout`), the call on the pool thread runs to its end and
  closes its database connection there, giving it back to the pool; a request abandoned before a
  thread picked it up is not run at all, and a streaming answer is closed (its connection given
  back) even when its client went away halfway;
- at most `threads + SCHEDULER_HTTP_MAX_QUEUED` requests are in the master at once (running or
  waiting for a thread); past that a request is answered at once, on the loop, 503 with
  `Retry-After` (agents' `/api/v1/internal/` requests get twice the room: their heartbeats keep
  nodes alive), instead of queueing without bound until every client times out;
- `/healthz` is answered on the loop (`scheduler_site.health`), never queued behind them.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections
from django.http import FileResponse, HttpResponse
from django.urls import set_script_prefix

from scheduler_site import health
from scheduler_site.errors import unavailable_body

HTTP_THREADS = 8  # requests served at once; PostgreSQL's pool (SCHEDULER_DB_POOL_SIZE) must exceed it


SHED_RETRY_AFTER = 1  # seconds: a shed request is retried soon, the queue drains in well under that
AGENT_PREFIX = "/api/v1/internal/"
HEALTH_PATHS = ("/healthz", "/healthz/")


class _Request:
    """One request's life between the loop and its pool thread."""

    __slots__ = ("abandoned", "submitted")

    def __init__(self) -> None:
        self.abandoned = False  # the coroutine was cancelled: nobody will send the answer
        self.submitted = False  # the pool thread owns the body file from then on


class ThreadPoolASGIHandler(ASGIHandler):
    def __init__(self, *, threads: int = HTTP_THREADS, max_queued: int | None = None) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        queued = settings.SCHEDULER_HTTP_MAX_QUEUED if max_queued is None else max_queued
        self.limit = threads + queued
        self.in_flight = 0  # submitted to the pool and not finished there (queued or running)
        self.shed = 0  # answered 503 at the door, since start
        self._count = threading.Lock()
        self.health = health.HealthCheck()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if scope["path"] in HEALTH_PATHS and scope["method"] in ("GET", "HEAD"):
            await self.health.answer(send, {"http": {"in_flight": self.in_flight, "limit": self.limit,
                                                     "shed": self.shed}, "pool": health.pool_stats()})
            return
        limit = self.limit * 2 if scope["path"].startswith(AGENT_PREFIX) else self.limit
        if self.in_flight >= limit:
            self.shed += 1
            await self._send_overloaded(send)
            return
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        request = _Request()
        with self._count:
            self.in_flight += 1
        try:
            context = contextvars.copy_context()
            call = context.run
            try:  # shielded: the pool's future is never cancelled, so the count stays true
                running = self.pool.submit(call, self._respond, scope, body_file, request)
                request.submitted = True
                response = await asyncio.shield(asyncio.wrap_future(running))
            except asyncio.CancelledError:
                request.abandoned = True  # not yet started: the thread skips it; started: it runs to its end
                raise
            if response is None:
                return
            if response.streaming:
                async with ThreadSensitiveContext():
                    try:
                        await self.send_response(response, send)
                    finally:  # the client may be gone: the stream's connection goes back all the same
                        await sync_to_async(response.close)()
            else:
                await self.send_response(response, send)
        finally:
            if not request.submitted:
                body_file.close()  # else the pool thread closes it when it is done with it

    async def _send_overloaded(self, send) -> None:
        payload = json.dumps(unavailable_body(
            "The master is busy; retry later.", "overloaded")).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"),
                                (b"retry-after", str(SHED_RETRY_AFTER).encode()),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def _respond(self, scope, body_file, request: _Request) -> HttpResponse | None:
        """In a pool thread: what Django's handler does between reading the body and sending."""
        try:
            if request.abandoned:
                return None
            return self._respond_now(scope, body_file)
        finally:
            body_file.close()
            with self._count:
                self.in_flight -= 1

    def _respond_now(self, scope, body_file) -> HttpResponse:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
                response._handler_class = self.__class__
                if isinstance(response, FileResponse):
                    response.block_size = self.chunk_size
        except BaseException:
            close_old_connections()  # never keep a connection past a request that blew up
            raise
        if not response.streaming:
            response.close()  # request_finished (connection hygiene) here, not in another hop
        return response
