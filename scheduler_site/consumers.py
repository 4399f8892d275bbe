"""The base of the project's WebSocket consumers: group membership and the connection gauge kept
right whatever happens, and no exception that leaves a socket half-dead.

- `join(group)` joins the group, accepts and counts the socket in `scheduler_websocket_connections`;
  the disconnect undoes exactly what was done, even when a handler or `disconnect` itself failed.
- An exception in any handler (a frame, a channel-layer message, the connect) is logged and the
  consumer answers instead of dying under daphne: before accept it refuses the socket; after, it
  calls `handler_failed` (default: close cleanly with 1011; the agent socket sends an error frame).
- Channels (4.2+) runs `close_old_connections` through a sync-to-async thread hop before every
  message a consumer handles; on the agent socket that hop cost more than the heartbeat itself.
  Our consumers touch the database only through `scheduler_site.dbthreads`, whose calls keep
  Django's connection hygiene in the thread that uses the connection, so the hop is skipped here.
"""

from __future__ import annotations

import logging

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from scheduler_site import metrics

log = logging.getLogger("scheduler.websockets")


class Consumer(AsyncWebsocketConsumer):
    gauge = ""  # this socket's `kind` label in scheduler_websocket_connections
    group: str | None = None
    counted = False
    accepted = False

    async def join(self, group: str) -> None:
        """Join `group`, accept the socket and count it; `websocket_disconnect` undoes all three."""
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.accepted = self.counted = True
        metrics.WEBSOCKETS.labels(self.gauge).inc()

    async def handler_failed(self, error: Exception) -> None:
        """After an unexpected error once the socket is open: close it cleanly (the client reconnects)."""
        await self.close(code=1011)

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception as error:
            log.exception("websocket handler failed",
                          extra={"consumer": type(self).__name__, "handling": message.get("type")})
            if message["type"] == "websocket.disconnect":
                raise StopConsumer() from None
            if self.accepted:
                await self.handler_failed(error)
            else:
                await self.close()  # refuse the handshake (or close, if it got that far)

    async def websocket_disconnect(self, message: dict) -> None:
        try:
            await self.disconnect(message.get("code", 1000))
        finally:
            await self._leave()
        raise StopConsumer()

    async def _leave(self) -> None:
        if self.counted:
            self.counted = False
            metrics.WEBSOCKETS.labels(self.gauge).dec()
        if self.group:
            group, self.group = self.group, None
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        """A peer that went away while we answered it (an agent killed mid-heartbeat) is not an
        error of ours: its disconnect arrives next and runs the bookkeeping. Raising here killed
        the consumer instead, and its disconnect (gauge, group membership) never ran."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except Disconnected:
            pass

