"""Publish messages to channel-layer groups from synchronous code, without waiting on the layer.

One sender per process drains a queue of batches in order, on an event loop: the ASGI server's
loop inside a master (the in-memory layer is bound to it), a private background loop elsewhere
(sweeper, management commands; useful with Redis only: an in-memory layer outside the server has
nobody to deliver to, so nothing is sent). Within a batch, sends go out concurrently, so a
placement batch of thousands of tasks costs Redis round trips in parallel, not in series, and the
placing thread never waits. Messages are hints (nudges, state snapshots): a lost one costs latency.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterable

from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger("scheduler.bus")
CONCURRENT_SENDS = 64

_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def server_loop() -> asyncio.AbstractEventLoop | None:
    return _server_loop if _server_loop is not None and _server_loop.is_running() else None


class _Sender:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.batches: deque[list[tuple[str, dict]]] = deque()
        self.wake: asyncio.Event | None = None
        self.lock = threading.Lock()
        self.started = False

    def submit(self, batch: list[tuple[str, dict]]) -> None:
        self.batches.append(batch)
        with self.lock:
            start, self.started = not self.started, True
        if start:
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._run()))
        elif self.wake is not None:
            self.loop.call_soon_threadsafe(self.wake.set)

    async def _run(self) -> None:
        self.wake = asyncio.Event()
        layer = get_channel_layer()
        while True:
            while self.batches:
                batch = self.batches.popleft()
                for start in range(0, len(batch), CONCURRENT_SENDS):
                    chunk = batch[start : start + CONCURRENT_SENDS]
                    results = await asyncio.gather(*(layer.group_send(g, m) for g, m in chunk),
                                                   return_exceptions=True)
                    for (group, _), result in zip(chunk, results, strict=True):
                        if isinstance(result, Exception):
                            log.warning("group_send failed", extra={"group": group, "error": str(result)})
            self.wake.clear()
            if not self.batches:
                await self.wake.wait()


_senders: dict[int, _Sender] = {}
_senders_lock = threading.Lock()
_private_loop: asyncio.AbstractEventLoop | None = None


def _private() -> asyncio.AbstractEventLoop:
    global _private_loop
    if _private_loop is None:
        _private_loop = asyncio.new_event_loop()
        threading.Thread(target=_private_loop.run_forever, name="bus", daemon=True).start()
    return _private_loop


def _sender() -> _Sender | None:
    loop = server_loop()
    if loop is None:
        if isinstance(get_channel_layer(), InMemoryChannelLayer | type(None)):  # ours subclasses it
            return None  # no server here to deliver to
        with _senders_lock:
            loop = _private()
    with _senders_lock:
        sender = _senders.get(id(loop))
        if sender is None or sender.loop is not loop:
            sender = _senders[id(loop)] = _Sender(loop)
        return sender


def publish_many(messages: Iterable[tuple[str, dict]]) -> None:
    batch = list(messages)
    if batch and (sender := _sender()) is not None:
        sender.submit(batch)


def publish(group: str, message: dict) -> None:
    publish_many([(group, message)])
