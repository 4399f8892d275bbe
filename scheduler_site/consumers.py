"""The base of the project's WebSocket consumers.

Channels (4.2+) runs `close_old_connections` through a sync-to-async thread hop before every
message a consumer handles; on the agent socket that hop cost more than the heartbeat itself.
Our consumers touch the database only through `scheduler_site.dbthreads`, whose calls keep
Django's connection hygiene in the thread that uses the connection, so the hop is skipped here.
A frame for a socket that has just closed is dropped, not raised.
"""

from __future__ import annotations

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class Consumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        """A frame for a socket that closed meanwhile (a push racing the peer's going away) is dropped:
        the disconnect is on its way to this consumer, and every frame we push is a hint or is
        answered again after the peer reconnects. Daphne raised it as an application error."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except Disconnected:
            pass
