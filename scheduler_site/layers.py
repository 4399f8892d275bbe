"""The in-memory channel layer (the single-master default), made to scale with connections.

Channels' InMemoryChannelLayer sweeps every channel and group for expired messages on every
`receive` call, that is once per message per connection: with 10,000 agents connected that sweep
was a fifth of the master's CPU. Here it runs at most once a second, which keeps expiry meaning
the same (messages and memberships still expire, a second later at most).
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

CLEAN_EVERY = 1.0


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    _cleaned_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < CLEAN_EVERY:
            return
        self._cleaned_at = now
        super()._clean_expired()
