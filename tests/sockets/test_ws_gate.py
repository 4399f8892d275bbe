"""Past SCHEDULER_WS_MAX_CONNECTING handshakes in progress, a socket is accepted and closed at once
with 1013 (try again later), before any work; the ones admitted are served; agents get twice the
room; the count goes back down whatever the consumer does."""

from __future__ import annotations

import asyncio

from scheduler_site.ws_gate import TRY_AGAIN_LATER, HandshakeGate


class SlowConsumer:
    """Accepts once `release` is set (a handshake stuck on its database calls), or fails."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.served = 0

    async def __call__(self, scope, receive, send):
        await receive()
        self.served += 1
        await self.release.wait()
        if scope["path"] == "/ws/broken/":
            raise RuntimeError("consumer failed during its handshake")
        await send({"type": "websocket.accept"})


async def connect(app, path: str) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    try:
        await app({"type": "websocket", "path": path}, receive, send)
    except RuntimeError:
        pass
    return sent


def test_past_the_limit_a_handshake_is_closed_1013_at_once_and_the_admitted_ones_are_served():
    async def scenario():
        consumer = SlowConsumer()
        gate = HandshakeGate(consumer, limit=2)
        admitted = [asyncio.create_task(connect(gate, "/ws/tasks/1/logs/")) for _ in range(2)]
        await asyncio.sleep(0.05)
        refused = await asyncio.wait_for(connect(gate, "/ws/tasks/1/logs/"), 1)
        agent = asyncio.create_task(connect(gate, "/ws/agent/"))  # twice the room: admitted
        await asyncio.sleep(0.05)
        consumer.release.set()
        return gate, consumer, refused, await asyncio.gather(*admitted), await agent

    gate, consumer, refused, admitted, agent = asyncio.run(scenario())
    assert refused == [{"type": "websocket.accept"},
                       {"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": "busy: retry later"}]
    assert admitted == [[{"type": "websocket.accept"}]] * 2 and agent == [{"type": "websocket.accept"}]
    assert consumer.served == 3 and gate.refused == 1 and gate.connecting == 0


def test_a_handshake_that_fails_gives_its_place_back():
    async def scenario():
        consumer = SlowConsumer()
        consumer.release.set()
        gate = HandshakeGate(consumer, limit=1)
        await connect(gate, "/ws/broken/")
        return gate, await connect(gate, "/ws/tasks/1/logs/")

    gate, second = asyncio.run(scenario())
    assert gate.connecting == 0 and second == [{"type": "websocket.accept"}]
