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


def test_a_busy_pool_makes_operations_wait_instead_of_failing():
    """With every connection of the pool in use, the next operation waits for one: 200 concurrent
    group_adds through a pool of 2 all succeed (redis-py 8's plain pool raised MaxConnectionsError)."""
    from scheduler_site.redis_layer import RedisChannelLayer

    host = {**settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0], "max_connections": 2}

    async def scenario() -> int:
        layer = RedisChannelLayer(hosts=[host], prefix="crowd-test")
        channels = [await layer.new_channel() for _ in range(200)]
        await asyncio.gather(*(layer.group_add("crowd-test", channel) for channel in channels))
        await asyncio.gather(*(layer.group_discard("crowd-test", channel) for channel in channels))
        await layer.flush()  # this layer's own prefix only
        return len(channels)

    assert asyncio.run(scenario()) == 200


def test_the_configured_layer_is_the_waiting_one():
    from redis.asyncio import BlockingConnectionPool

    layer = get_channel_layer()
    pool = layer.create_pool(0)
    assert isinstance(pool, BlockingConnectionPool)
    assert pool.max_connections == settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["max_connections"]
