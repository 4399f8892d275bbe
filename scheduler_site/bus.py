"""Publish messages to channel-layer groups from synchronous code, without waiting on the layer.

Inside the ASGI server the layer belongs to the server's event loop (the in-memory layer is not
thread-safe), so sends are handed to that loop; elsewhere (sweeper, management commands) they run
on a private loop. Messages are hints (nudges, state snapshots): a lost one costs latency only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("scheduler.bus")
_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def server_loop() -> asyncio.AbstractEventLoop | None:
    return _server_loop if _server_loop is not None and _server_loop.is_running() else None


async def _send_all(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, message in messages:
        try:
            await layer.group_send(group, message)
        except Exception:  # a broken layer must not break the caller; hints are best effort
            log.warning("group_send failed", extra={"group": group}, exc_info=True)


def publish_many(messages: Iterable[tuple[str, dict]]) -> None:
    batch = list(messages)
    if not batch:
        return
    loop = server_loop()
    if loop is None:
        async_to_sync(_send_all)(batch)
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.create_task(_send_all(batch))
    else:
        asyncio.run_coroutine_threadsafe(_send_all(batch), loop)


def publish(group: str, message: dict) -> None:
    publish_many([(group, message)])
