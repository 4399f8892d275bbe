"""The Redis channel layer (several masters), with connection pools that wait when they are busy.

channels-redis builds one redis-py `ConnectionPool` per event loop. redis-py 8's pool holds at most
100 connections and raises `MaxConnectionsError` past that (older redis-py had no bound at all), so
a crowd of sockets (150 log sockets opening at once, a 2,000-submit burst with 200 subscribers, a
thousand agents reconnecting after a master restart) got handshake 500s: each handshake's
`group_add`, and each `group_send`, holds a connection for a round trip.

Here each pool is a `BlockingConnectionPool`: at most `max_connections` connections
(SCHEDULER_REDIS_POOL_SIZE), and an operation past that waits up to `timeout` seconds
(SCHEDULER_REDIS_POOL_TIMEOUT) for one to come back instead of failing. docs/deployment.md sizes it.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer as ChannelsRedisChannelLayer
from redis.asyncio import BlockingConnectionPool


class RedisChannelLayer(ChannelsRedisChannelLayer):
    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        return BlockingConnectionPool.from_url(address, **host)
