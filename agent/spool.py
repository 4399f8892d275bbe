"""Output spool: every chunk of a task's output is written to a local file before it is sent, and
kept until the master acknowledges it, so nothing is lost when the connection or the master
drops, or when the agent itself restarts.

One attempt's spool is a series of segment files of JSON lines, `<task>-<attempt>.<n>.chunks`,
each line `{"seq", "stream", "data", "ts"}` with seq counting from 0 per attempt, plus
`<task>-<attempt>.acked` holding the highest seq acknowledged without a gap. Segments roll at
SEGMENT_BYTES and are deleted once fully acknowledged, so a long, chatty task connected to a
healthy master uses little disk.

The whole spool dir is bounded (`SpoolBudget`, default 1 GiB). When it is full, new output is
dropped and counted, and the next chunk that fits says so in the log itself:
"[mini-scheduler agent] N bytes of output dropped: spool full". Never silently.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("agent.spool")

SEGMENT_BYTES = 16 * 1024 * 1024
MEMORY_CACHE_BYTES = 8 * 1024 * 1024
DROP_MARKER = "\n[mini-scheduler agent] {n} bytes of output dropped: spool full (limit {limit} bytes)\n"


class SpoolBudget:
    """Bytes on disk across every spool of this agent."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def charge(self, size: int) -> None:
        with self._lock:
            self.used += size

    def give_back(self, size: int) -> None:
        with self._lock:
            self.used = max(0, self.used - size)


class AttemptSpool:
    def __init__(self, directory: Path, task: int, attempt: int, budget: SpoolBudget) -> None:
        self.directory, self.task, self.attempt, self.budget = directory, task, attempt, budget
        self.prefix = f"{task}-{attempt}"
        self.next_seq = 0
        self.acked_through = -1
        self._acked_ahead: set[int] = set()  # acknowledged out of order
        self.sent_through = -1
        self._index: dict[int, tuple[int, int, int]] = {}  # seq -> (segment, offset, length)
        self._segments: dict[int, int] = {}  # segment -> bytes
        self._segment_last_seq: dict[int, int] = {}
        self._current = 0
        self._handle = None
        self._cache: dict[int, dict] = {}
        self._cache_bytes = 0
        self.dropped_bytes = 0  # not yet reported in the log
        self.total_dropped = 0
        self.closed = False  # no more output will come (the process ended)
        self._lock = threading.RLock()

    # -- files ---------------------------------------------------------------------------

    def _segment_path(self, segment: int) -> Path:
        return self.directory / f"{self.prefix}.{segment}.chunks"

    def _ack_path(self) -> Path:
        return self.directory / f"{self.prefix}.acked"

    def _open_segment(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = open(self._segment_path(self._current), "ab")  # noqa: SIM115 - kept open
        self._segments.setdefault(self._current, 0)

    @classmethod
    def recover(cls, directory: Path, task: int, attempt: int, budget: SpoolBudget) -> AttemptSpool:
        """Rebuild a spool left by a previous life of the agent."""
        spool = cls(directory, task, attempt, budget)
        try:
            spool.acked_through = int(spool._ack_path().read_text().strip() or -1)
        except (FileNotFoundError, ValueError):
            spool.acked_through = -1
        for path in sorted(directory.glob(f"{spool.prefix}.*.chunks"), key=lambda p: int(p.name.split(".")[-2])):
            segment = int(path.name.split(".")[-2])
            offset = 0
            with open(path, "rb") as handle:
                for line in handle:
                    try:
                        seq = json.loads(line)["seq"]
                    except (ValueError, KeyError):
                        break  # a torn last line from a crash: everything after it is unreadable
                    spool._index[seq] = (segment, offset, len(line))
                    spool._segment_last_seq[segment] = seq
                    spool.next_seq = max(spool.next_seq, seq + 1)
                    offset += len(line)
            spool._segments[segment] = offset
            budget.charge(offset)
            spool._current = max(spool._current, segment)
        spool.sent_through = spool.acked_through
        spool.closed = True
        return spool

    # -- writing -------------------------------------------------------------------------

    def append(self, stream: str, data: str, ts: float) -> int | None:
        """Spool one chunk; returns its seq, or None when the spool is full (the bytes are counted)."""
        with self._lock:
            if self.dropped_bytes and self._fits(len(data) + 200):
                marker = DROP_MARKER.format(n=self.dropped_bytes, limit=self.budget.limit)
                log.warning("spool was full; output dropped",
                            extra={"task": self.task, "attempt": self.attempt, "bytes": self.dropped_bytes})
                self.dropped_bytes = 0
                self._write("stderr", marker, ts)
            if not self._fits(len(data.encode()) + 100):
                self.dropped_bytes += len(data.encode())
                self.total_dropped += len(data.encode())
                return None
            return self._write(stream, data, ts)

    def _fits(self, size: int) -> bool:
        return self.budget.used + size <= self.budget.limit

    def _write(self, stream: str, data: str, ts: float) -> int:
        seq = self.next_seq
        chunk = {"seq": seq, "stream": stream, "data": data, "ts": ts}
        line = (json.dumps(chunk, ensure_ascii=False) + "\n").encode()
        if self._handle is None or self._segments.get(self._current, 0) >= SEGMENT_BYTES:
            if self._handle is not None:
                self._current += 1
            self._open_segment()
        self.budget.charge(len(line))
        offset = self._segments[self._current]
        self._handle.write(line)
        self._handle.flush()
        self._segments[self._current] = offset + len(line)
        self._segment_last_seq[self._current] = seq
        self._index[seq] = (self._current, offset, len(line))
        self.next_seq = seq + 1
        if self._cache_bytes + len(line) <= MEMORY_CACHE_BYTES:
            self._cache[seq] = chunk
            self._cache_bytes += len(line)
        return seq

    def close(self) -> None:
        """The process ended: no more output. Report any drop that never got its marker."""
        with self._lock:
            if self.dropped_bytes:
                marker = DROP_MARKER.format(n=self.dropped_bytes, limit=self.budget.limit)
                self.dropped_bytes = 0
                self._write("stderr", marker, 0.0)  # a marker may overdraw the budget slightly
            self.closed = True
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    # -- sending and acknowledgement -----------------------------------------------------

    def unsent(self, max_bytes: int) -> list[dict]:
        """The next chunks to send (after sent_through), up to about max_bytes of data."""
        with self._lock:
            out, size, seq = [], 0, self.sent_through + 1
            while seq < self.next_seq and size < max_bytes:
                chunk = self._cache.get(seq) or self._read(seq)
                if chunk is None:
                    break
                out.append(chunk)
                size += len(chunk["data"]) + 64
                seq += 1
            return out

    def _read(self, seq: int) -> dict | None:
        where = self._index.get(seq)
        if where is None:
            return None
        segment, offset, length = where
        with open(self._segment_path(segment), "rb") as handle:
            handle.seek(offset)
            return json.loads(handle.read(length))

    def mark_sent(self, seq: int) -> None:
        with self._lock:
            self.sent_through = max(self.sent_through, seq)

    def rewind(self) -> None:
        """After a disconnect: everything not acknowledged goes again."""
        with self._lock:
            self.sent_through = self.acked_through

    def ack(self, seqs: list[int]) -> None:
        with self._lock:
            for seq in seqs:
                if seq > self.acked_through:
                    self._acked_ahead.add(seq)
            moved = False
            while self.acked_through + 1 in self._acked_ahead:
                self._acked_ahead.discard(self.acked_through + 1)
                self.acked_through += 1
                moved = True
                chunk = self._cache.pop(self.acked_through, None)
                if chunk is not None:
                    self._cache_bytes -= len(chunk["data"]) + 64
            if moved:
                self._ack_path().write_text(str(self.acked_through))
                self._drop_acked_segments()

    def _drop_acked_segments(self) -> None:
        for segment in sorted(self._segments):
            if segment == self._current and not self.closed:
                break
            if self._segment_last_seq.get(segment, -1) > self.acked_through:
                break
            self._segment_path(segment).unlink(missing_ok=True)
            self.budget.give_back(self._segments.pop(segment))
            for seq in [s for s, (seg, _, _) in self._index.items() if seg == segment]:
                del self._index[seq]

    @property
    def fully_acked(self) -> bool:
        return self.closed and self.acked_through >= self.next_seq - 1

    @property
    def has_unsent(self) -> bool:
        return self.sent_through < self.next_seq - 1

    def in_flight(self) -> int:
        return self.sent_through - self.acked_through

    def remove(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            for segment, size in list(self._segments.items()):
                self._segment_path(segment).unlink(missing_ok=True)
                self.budget.give_back(size)
            self._segments.clear()
            self._index.clear()
            self._cache.clear()
            self._ack_path().unlink(missing_ok=True)


def spooled_attempts(directory: Path) -> Iterator[tuple[int, int]]:
    """(task, attempt) of every spool in `directory`."""
    seen = set()
    for path in directory.glob("*.chunks"):
        task, _, rest = path.name.partition("-")
        attempt = rest.split(".")[0]
        if task.isdigit() and attempt.isdigit() and (task, attempt) not in seen:
            seen.add((task, attempt))
            yield int(task), int(attempt)


def disk_usage(directory: Path) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(directory) if entry.is_file())
