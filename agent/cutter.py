"""Cut a process's output into chunks: several lines each, cut by size or by time (about 50 ms
after the first unsent byte), so a chatty task sends few large chunks and a quiet one is still
seen at once. Bytes are decoded as UTF-8 incrementally (a character split across reads is
kept whole; invalid bytes become U+FFFD).
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable

MAX_CHUNK_CHARS = 32 * 1024
FLUSH_AFTER = 0.05

Emit = Callable[[str, str, float], None]  # (stream, data, ts)


class _Stream:
    def __init__(self, name: str) -> None:
        self.name = name
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.parts: list[str] = []
        self.size = 0
        self.since: float | None = None  # monotonic time of the oldest unsent byte

    def take(self, upto: int | None = None) -> str:
        text = "".join(self.parts)
        if upto is None or upto >= len(text):
            self.parts, self.size, self.since = [], 0, None
            return text
        head, rest = text[:upto], text[upto:]
        self.parts, self.size = [rest], len(rest)
        return head


class OutputCutter:
    """Feed bytes per stream; `emit(stream, data, ts)` is called for each chunk, in order."""

    def __init__(self, emit: Emit, *, max_chars: int = MAX_CHUNK_CHARS, flush_after: float = FLUSH_AFTER) -> None:
        self.emit = emit
        self.max_chars = max_chars
        self.flush_after = flush_after
        self.streams = {"stdout": _Stream("stdout"), "stderr": _Stream("stderr")}

    def feed(self, stream: str, data: bytes, *, final: bool = False) -> None:
        state = self.streams[stream]
        text = state.decoder.decode(data, final=final)
        if not text:
            return
        if state.since is None:
            state.since = time.monotonic()
        state.parts.append(text)
        state.size += len(text)
        while state.size >= self.max_chars:
            head = "".join(state.parts)[: self.max_chars]
            cut = head.rfind("\n") + 1 or self.max_chars  # whole lines when the chunk has any
            self.emit(stream, state.take(cut), time.time())
            if state.size:
                state.since = time.monotonic()

    def flush_due(self, now: float | None = None) -> None:
        """Send what has waited long enough, oldest stream first."""
        now = time.monotonic() if now is None else now
        due = [s for s in self.streams.values() if s.since is not None and now - s.since >= self.flush_after]
        for state in sorted(due, key=lambda s: s.since):
            self.emit(state.name, state.take(), time.time())

    def flush_all(self) -> None:
        """End of output: decode any trailing partial character and send everything."""
        for name in ("stdout", "stderr"):
            self.feed(name, b"", final=True)
        pending = [s for s in self.streams.values() if s.since is not None]
        for state in sorted(pending, key=lambda s: s.since):
            self.emit(state.name, state.take(), time.time())

    def next_deadline(self) -> float | None:
        times = [s.since for s in self.streams.values() if s.since is not None]
        return min(times) + self.flush_after if times else None
