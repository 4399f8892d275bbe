"""A frame pushed to a WebSocket that closed meanwhile (a desired-state push racing the agent's
reconnect) is dropped quietly: daphne raised it as an error inside the application."""

from __future__ import annotations

import asyncio

import pytest
from autobahn.exception import Disconnected

from scheduler_site.consumers import Consumer


def consumer_with(base_send) -> Consumer:
    consumer = Consumer()
    consumer.base_send = base_send
    return consumer


def test_a_frame_for_a_closed_socket_is_dropped():
    async def closed(message):
        raise Disconnected("Attempt to send on a closed protocol")

    asyncio.run(consumer_with(closed).send(text_data="{}"))  # raises nothing


def test_frames_for_an_open_socket_are_sent_and_other_errors_still_raise():
    sent = []

    async def open_socket(message):
        sent.append(message)

    asyncio.run(consumer_with(open_socket).send(text_data='{"type": "desired"}'))
    assert sent == [{"type": "websocket.send", "text": '{"type": "desired"}'}]

    async def broken(message):
        raise RuntimeError("not a disconnect")

    with pytest.raises(RuntimeError):
        asyncio.run(consumer_with(broken).send(text_data="{}"))
