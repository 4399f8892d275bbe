"""An ASGI app for test_ws_gate: the gate (limit 1) in front of a consumer that never accepts, so
the first socket holds the only place and every other one is refused, through real daphne."""

from __future__ import annotations

import asyncio

from scheduler_site.ws_gate import HandshakeGate


async def never_accepts(scope, receive, send):
    await receive()
    await asyncio.sleep(3600)


app = HandshakeGate(never_accepts, limit=1)
