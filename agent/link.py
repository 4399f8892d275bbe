"""The agent's WebSocket to the master: one connection, kept up with backoff and jitter.

Frames are JSON. `send` returns False when there is no connection; callers keep what they
could not send (spool, pending reports) and send it after `on_connect`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import websocket

from agent import protocol
from agent.backoff import Backoff
from agent.loops import LoopGuard, log_fatal
from agent.masters import Masters

log = logging.getLogger("agent.link")


class Link:
    def __init__(
        self,
        masters: Masters,
        *,
        token: Callable[[], str | None],
        on_frame: Callable[[dict], None],
        on_connect: Callable[[], None],
        idle_timeout: float = 15.0,
        on_fatal: Callable[[str], None] = log_fatal,
    ) -> None:
        self.masters = masters
        self.token = token
        self.on_frame, self.on_connect = on_frame, on_connect
        self.idle_timeout = idle_timeout
        self.connected = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._backoff = Backoff(base=0.2, cap=5.0)
        self._guard = LoopGuard("link", on_fatal=on_fatal)
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._drop()
        if self._thread.ident is not None:  # started (an agent refused at its first registration never is)
            self._thread.join(timeout=5)

    def send(self, frame: dict) -> bool:
        ws = self._ws
        if ws is None or not self.connected.is_set():
            return False
        try:
            with self._send_lock:
                ws.send(json.dumps(frame))
            return True
        except (websocket.WebSocketException, OSError) as error:
            log.warning("send failed; reconnecting", extra={"error": str(error)})
            self._drop()
            return False

    def _drop(self) -> None:
        self.connected.clear()
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close(timeout=1)
            except Exception:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._guard.run(self._connection):
                return

    def _connection(self) -> None:
        """Connect, serve the connection until it drops, and wait before the next one."""
        token = self.token()
        if token is None:
            self._stop.wait(0.2)
            return
        url = self.masters.ws_url()
        try:
            ws = websocket.create_connection(
                url, header=[f"Authorization: Token {token}"], suppress_origin=True, timeout=10,
                enable_multithread=True,
            )
        except (websocket.WebSocketException, OSError) as error:
            self.masters.failed(self.masters.current())
            delay = self._backoff.next_delay()
            log.info("websocket connect failed", extra={"error": str(error), "retry_in": round(delay, 2)})
            self._stop.wait(delay)
            return
        ws.settimeout(self.idle_timeout)
        self._ws = ws
        self.connected.set()
        self._backoff.reset()
        log.info("websocket connected", extra={"url": url})
        try:
            self.on_connect()
            self._receive(ws)
        finally:
            self._drop()
            if not self._stop.is_set():
                self._stop.wait(self._backoff.next_delay())

    def _receive(self, ws: websocket.WebSocket) -> None:
        quiet = 0
        while not self._stop.is_set():
            try:
                text = ws.recv()
            except websocket.WebSocketTimeoutException:
                quiet += 1
                if quiet >= 2 or not self.send(protocol.sync()):
                    log.warning("websocket silent; reconnecting")
                    return
                continue
            except (websocket.WebSocketException, OSError) as error:
                if not self._stop.is_set():
                    log.info("websocket closed", extra={"error": str(error)})
                return
            quiet = 0
            if not text:
                return
            try:
                frame = json.loads(text)
            except ValueError:
                continue
            try:
                self.on_frame(frame)
            except Exception:
                log.exception("handling a frame failed", extra={"type": frame.get("type")})
