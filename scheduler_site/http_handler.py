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
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse, HttpResponse
from django.urls import set_script_prefix

HTTP_THREADS = 8  # requests served at once; PostgreSQL's pool (SCHEDULER_DB_POOL_SIZE) must exceed it


class ThreadPoolASGIHandler(ASGIHandler):
    def __init__(self, *, threads: int = HTTP_THREADS) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            context = contextvars.copy_context()
            call = context.run
            response = await asyncio.get_running_loop().run_in_executor(
                self.pool, call, self._respond, scope, body_file)
            if response.streaming:
                async with ThreadSensitiveContext():
                    await self.send_response(response, send)
                    await sync_to_async(response.close)()
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def _respond(self, scope, body_file) -> HttpResponse:
        """In a pool thread: what Django's handler does between reading the body and sending."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()  # request_finished (connection hygiene) here, not in another hop
        return response
