"""A WebSocket log subscriber for tests: collects frames in a thread."""

from __future__ import annotations

import json
import threading

import websocket


def log_url(master: str, task_id: int, query: str = "") -> str:
    return master.replace("http", "ws", 1) + f"/ws/tasks/{task_id}/logs/" + (f"?{query}" if query else "")


class Subscriber:
    """A WebSocket log subscriber collecting frames in a thread."""

    def __init__(self, url: str, token: str, *, timeout: float = 10) -> None:
        self.frames: list[dict] = []
        # recv() still decodes text frames strictly as UTF-8 (in C); the library's own validator
        # is a pure-Python loop that costs about a CPU-second per 8 MB and would make the
        # subscriber, not the pipeline, the busiest process on a small machine.
        self.ws = websocket.create_connection(
            url, header=[f"Authorization: Token {token}"], timeout=timeout, skip_utf8_validation=True
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                text = self.ws.recv()
            except Exception:
                return
            if not text:
                return
            self.on_frame(json.loads(text))

    def on_frame(self, frame: dict) -> None:
        self.frames.append(frame)

    def logs(self) -> list[dict]:
        return [f for f in self.frames if f["type"] == "log"]

    def text(self, stream: str | None = None) -> str:
        return "".join(f["data"] for f in self.logs() if stream is None or f["stream"] == stream)

    def statuses(self) -> list[str]:
        return [f["status"] for f in self.frames if f["type"] == "status"]

    def close(self) -> None:
        self.ws.close()


def assert_gapless(frames: list[dict]) -> None:
    seqs = [f["seq"] for f in frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "sequence numbers must have no gap or duplicate"
