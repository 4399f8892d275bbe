"""Past SCHEDULER_WS_MAX_CONNECTING handshakes in progress, a socket is accepted and closed at once
with 4503 (busy, try again later), before any work; the ones admitted are served; agents get twice the
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


def test_past_the_limit_a_handshake_is_closed_4503_at_once_and_the_admitted_ones_are_served():
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


def test_through_daphne_a_refused_socket_completes_its_handshake_and_gets_a_clean_4503_close(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time

    import websockets.sync.client as ws_client
    from websockets.exceptions import ConnectionClosed

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "daphne.log").open("w")
    daphne = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "tests.sockets.gate_app:app"], stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        holder = socket.create_connection(("127.0.0.1", port))  # a handshake that never completes
        holder.sendall(b"GET /ws/x/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        time.sleep(0.5)
        with ws_client.connect(f"ws://127.0.0.1:{port}/ws/y/", open_timeout=10) as ws:
            try:
                ws.recv(timeout=10)
                raise AssertionError("the refused socket got a frame")
            except ConnectionClosed as closed:
                assert closed.rcvd is not None, "closed without a close frame (a reset)"
                assert closed.rcvd.code == TRY_AGAIN_LATER
        holder.close()
    finally:
        daphne.kill()
        daphne.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "daphne.log").read_text()
