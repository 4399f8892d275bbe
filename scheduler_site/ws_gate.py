"""How many WebSocket handshakes a master works on at once.

A handshake costs a few database calls (the token, the task, the permission) and a channel-layer
subscription. A thousand at the same moment queued behind each other until daphne's handshake
time-out (5 s) failed most of them with a 403 and nginx marked the masters down. Past
`SCHEDULER_WS_MAX_CONNECTING` handshakes in progress, a new socket is accepted and closed at once
with code 4503 ("busy, try again later"; the standard 1013 is refused by daphne's autobahn, which
lets an application close with 1000 or 3000-4999 only) and no work done: the client
reconnects after its backoff (the dashboard's and the agents' sockets do) and the ones admitted
complete in time. The agents' socket gets twice the room: its heartbeats keep nodes alive.
"""

from __future__ import annotations

from django.conf import settings

TRY_AGAIN_LATER = 4503  # as HTTP 503; the dashboard's sockets already use 4401 and 4404 the same way
AGENT_PATH = "/ws/agent"


class HandshakeGate:
    def __init__(self, inner, *, limit: int | None = None) -> None:
        self.inner = inner
        self.limit = settings.SCHEDULER_WS_MAX_CONNECTING if limit is None else limit
        self.connecting = 0
        self.refused = 0  # since start

    async def __call__(self, scope, receive, send):
        limit = self.limit * 2 if scope.get("path", "").startswith(AGENT_PATH) else self.limit
        if self.connecting >= limit:
            self.refused += 1
            await self._refuse(receive, send)
            return
        self.connecting += 1
        pending = True

        def done() -> None:
            nonlocal pending
            if pending:
                pending = False
                self.connecting -= 1

        async def watched_send(message):
            if message["type"] in ("websocket.accept", "websocket.close"):
                done()
            await send(message)

        try:
            return await self.inner(scope, receive, watched_send)
        finally:
            done()

    @staticmethod
    async def _refuse(receive, send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": "busy: retry later"})
