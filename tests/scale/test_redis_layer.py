"""The Redis channel layer as configured: a consumer waiting on an idle channel waits quietly.

channels-redis blocks in BZPOPMIN for 5 s at a time; redis-py 8 reads with a 5 s socket timeout
by default, so an idle receive used to fail with "Timeout reading from ..." and take the
WebSocket consumer down with it (agents and browsers were dropped every 6 s when quiet)."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]


def test_an_idle_receive_outlasts_the_blocking_pop_and_then_gets_its_message():
    assert settings.REDIS_URL, "the PostgreSQL run uses the Redis channel layer (REDIS_URL)"

    async def scenario() -> dict:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        with pytest.raises(asyncio.TimeoutError):  # nothing came: it is still waiting, not failed
            await asyncio.wait_for(layer.receive(channel), timeout=11)
        await layer.send(channel, {"type": "ping", "n": 1})
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    assert asyncio.run(scenario()) == {"type": "ping", "n": 1}
