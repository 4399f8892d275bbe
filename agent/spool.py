"""Output spool: a task's stdout and stderr go straight into two files of its attempt's spool
directory (the process writes at file speed and never waits on the agent, the network or a
viewer); the agent cuts what the files gain into numbered chunks and keeps them until the master
acknowledges them, so nothing is lost when the connection, the master or the agent itself drops.

    <spool>/<task>-<attempt>/stdout, stderr   the raw output, written by the process (O_APPEND)
    <spool>/<task>-<attempt>/index            one JSON line per chunk: seq, stream, offset, length, ts
    <spool>/<task>-<attempt>/acked            the highest seq acknowledged without a gap

A chunk is a byte range of one stream, cut after a newline when it has one (at most
MAX_CHUNK_BYTES, and never inside a UTF-8 character), or after FLUSH_AFTER when output stops
mid-line. Its data is read back from the file when it is sent.

Acknowledged ranges are punched out of the files (fallocate PUNCH_HOLE), so a long, chatty task
connected to a healthy master uses little disk. The whole spool dir is bounded (`SpoolBudget`,
1 GiB by default): when unacknowledged output passes it (the master unreachable for long), the
oldest unacknowledged chunks are dropped and their place in the log says how many bytes
("[mini-scheduler agent] N bytes of output dropped: spool full"). Never silently.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("agent.spool")

STREAMS = ("stdout", "stderr")
MAX_CHUNK_BYTES = 64 * 1024
FLUSH_AFTER = 0.05
DROP_MARKER = "\n[mini-scheduler agent] {n} bytes of output dropped: spool full (limit {limit} bytes)\n"

_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]


def punch_hole(fd: int, offset: int, length: int) -> bool:
    """Free the disk blocks of a byte range (the file keeps its size); False where unsupported."""
    if length <= 0:
        return True
    return _libc.fallocate(fd, _FALLOC_FL_KEEP_SIZE | _FALLOC_FL_PUNCH_HOLE, offset, length) == 0


class SpoolBudget:
    """Bytes of output held on disk across every spool of this agent."""

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

    @property
    def over(self) -> int:
        return self.used - self.limit


def safe_cut(data: bytes) -> int:
    """How many bytes of `data` end on a UTF-8 character boundary."""
    end = len(data)
    back = 0
    while back < min(4, end) and (data[end - 1 - back] & 0xC0) == 0x80:
        back += 1
    if back < end:
        lead = data[end - 1 - back]
        need = 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
        if need > back + 1:  # the last character is incomplete: leave it for later
            return end - 1 - back
    return end


class _Stream:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self.cut_at = 0  # bytes already cut into chunks
        self.since: float | None = None  # monotonic time uncut bytes were first seen
        self.punched = 0  # bytes freed from the front

    def size(self) -> int:
        return os.fstat(self.fd).st_size


class AttemptSpool:
    def __init__(self, directory: Path, task: int, attempt: int, budget: SpoolBudget) -> None:
        self.task, self.attempt, self.budget = task, attempt, budget
        self.dir = directory / f"{task}-{attempt}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.streams = {name: _Stream(self.dir / name) for name in STREAMS}
        self.chunks: dict[int, tuple[str, int, int, float]] = {}  # seq -> stream, offset, length, ts
        self.dropped: dict[int, int] = {}  # seq -> bytes dropped in its place
        self.next_seq = 0
        self.acked_through = -1
        self._acked_ahead: set[int] = set()
        self.sent_through = -1
        self.closed = False  # the process ended and its last output is cut
        self.removed = False  # files closed and deleted: every method is a no-op from then on
        self._index = open(self.dir / "index", "a")  # noqa: SIM115 - kept open
        self._lock = threading.RLock()

    # -- the process's side ------------------------------------------------------------------

    def task_fds(self) -> tuple[int, int]:
        """File descriptors to hand the process as its stdout and stderr (the caller closes them)."""
        return tuple(os.open(self.streams[name].path, os.O_WRONLY | os.O_APPEND) for name in STREAMS)

    def note(self, stream: str, text: str) -> None:
        """The agent's own words in the task's log (a command that could not start)."""
        with self._lock:
            if not self.removed:
                os.write(self.streams[stream].fd, text.encode())

    # -- cutting -------------------------------------------------------------------------------

    def cut(self, *, final: bool = False, now: float | None = None) -> bool:
        """Cut what the files gained into chunks; returns whether any were cut. A full chunk's worth
        is cut at once (after its last newline); a shorter rest waits FLUSH_AFTER for more."""
        now = time.monotonic() if now is None else now
        cut_any = False
        with self._lock:
            if self.removed:
                return False
            for name, stream in self.streams.items():
                size = stream.size()
                while stream.cut_at < size:
                    pending = size - stream.cut_at
                    if pending < MAX_CHUNK_BYTES and not final:
                        stream.since = stream.since or now
                        if now - stream.since < FLUSH_AFTER:
                            break
                    data = os.pread(stream.fd, min(pending, MAX_CHUNK_BYTES), stream.cut_at)
                    if len(data) == MAX_CHUNK_BYTES:
                        length = data.rfind(b"\n") + 1 or safe_cut(data) or len(data)
                    else:
                        length = len(data) if final else safe_cut(data)
                    if length == 0:
                        break  # only the start of a character so far
                    self._add_chunk(name, stream.cut_at, length, time.time())
                    stream.cut_at += length
                    stream.since = None
                    cut_any = True
            if final:
                self._finish()
            self._enforce_budget()
        return cut_any

    def _add_chunk(self, stream: str, offset: int, length: int, ts: float) -> None:
        seq = self.next_seq
        self.next_seq += 1
        self.chunks[seq] = (stream, offset, length, ts)
        self.budget.charge(length)
        self._index.write(json.dumps({"seq": seq, "stream": stream, "offset": offset, "length": length, "ts": ts})
                          + "\n")
        self._index.flush()

    def _finish(self) -> None:
        self.closed = True
        self._index.flush()

    def close(self) -> None:
        """The process ended: cut the rest of its output."""
        self.cut(final=True)

    # -- the budget ----------------------------------------------------------------------------

    def _enforce_budget(self) -> None:
        """Over budget: drop the oldest chunks not yet acknowledged (the master cannot be reached)."""
        seq = self.acked_through + 1
        while self.budget.over > 0 and seq < self.next_seq:
            if seq not in self.dropped and seq in self.chunks and seq > self.sent_through:
                stream, offset, length, _ = self.chunks[seq]
                punch_hole(self.streams[stream].fd, offset, length)
                self.dropped[seq] = length
                self.budget.give_back(length)
                self._index.write(json.dumps({"dropped": seq, "length": length}) + "\n")
                self._index.flush()
            seq += 1
        if self.dropped and self.budget.over > 0:
            log.warning("spool full; dropping output", extra={"task": self.task, "attempt": self.attempt})

    # -- sending and acknowledgement -----------------------------------------------------------

    def chunk(self, seq: int) -> dict | None:
        with self._lock:  # a closed descriptor's number may already be another file's
            where = None if self.removed else self.chunks.get(seq)
            if where is None:
                return None
            stream, offset, length, ts = where
            if seq in self.dropped:
                text = DROP_MARKER.format(n=self.dropped[seq], limit=self.budget.limit)
                return {"seq": seq, "stream": "stderr", "data": text, "ts": ts}
            data = os.pread(self.streams[stream].fd, length, offset)
        return {"seq": seq, "stream": stream, "data": data.decode("utf-8", errors="replace"), "ts": ts}

    def unsent(self, max_bytes: int) -> list[dict]:
        """The next chunks to send (after sent_through), up to about max_bytes of data."""
        with self._lock:
            out, size, seq = [], 0, self.sent_through + 1
            while seq < self.next_seq and size < max_bytes:
                chunk = self.chunk(seq)
                if chunk is None:
                    break
                out.append(chunk)
                size += len(chunk["data"]) + 64
                seq += 1
            return out

    def mark_sent(self, seq: int) -> None:
        with self._lock:
            self.sent_through = max(self.sent_through, seq)

    def rewind(self) -> None:
        """After a disconnect: everything not acknowledged goes again."""
        with self._lock:
            self.sent_through = self.acked_through

    def ack(self, seqs: list[int]) -> None:
        with self._lock:
            if self.removed:
                return
            for seq in seqs:
                if seq > self.acked_through:
                    self._acked_ahead.add(seq)
            before = self.acked_through
            while self.acked_through + 1 in self._acked_ahead:
                self._acked_ahead.discard(self.acked_through + 1)
                self.acked_through += 1
            if self.acked_through == before:
                return
            (self.dir / "acked").write_text(str(self.acked_through))
            for seq in range(before + 1, self.acked_through + 1):
                where = self.chunks.pop(seq, None)  # acknowledged: never read again
                if self.dropped.pop(seq, None) is not None or where is None:
                    continue
                stream, offset, length, _ = where
                state = self.streams[stream]
                # Chunks of one stream are contiguous: free up to the end of this one.
                if punch_hole(state.fd, state.punched, offset + length - state.punched):
                    state.punched = offset + length
                self.budget.give_back(length)

    @property
    def fully_acked(self) -> bool:
        return self.removed or (self.closed and self.acked_through >= self.next_seq - 1)

    @property
    def has_unsent(self) -> bool:
        return not self.removed and self.sent_through < self.next_seq - 1

    def in_flight(self) -> int:
        return self.sent_through - self.acked_through

    def remove(self) -> None:
        """Close and delete the files. Safe while other threads still hold this spool (the shipper
        from its copy of the list, the executor's tick): under the lock, and every method is a no-op
        afterwards, so no one reads a closed descriptor (or a reused one: another file's)."""
        with self._lock:
            if self.removed:
                return
            self.removed = True
            for seq in range(self.acked_through + 1, self.next_seq):
                if seq in self.chunks and seq not in self.dropped:
                    self.budget.give_back(self.chunks[seq][2])
            for stream in self.streams.values():
                try:
                    os.close(stream.fd)
                except OSError:
                    pass
            self._index.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- a previous life's spool ---------------------------------------------------------------

    @classmethod
    def recover(cls, directory: Path, task: int, attempt: int, budget: SpoolBudget) -> AttemptSpool:
        """Rebuild a spool left by a previous life of the agent, and cut whatever the process wrote
        after the last chunk that life cut."""
        spool = cls(directory, task, attempt, budget)
        try:
            spool.acked_through = int((spool.dir / "acked").read_text().strip() or -1)
        except (FileNotFoundError, ValueError):
            spool.acked_through = -1
        spool._index.close()
        with open(spool.dir / "index", "r+b") as handle:
            good = 0  # bytes of whole lines: a torn last line is cut off, its output cut again below
            for line in handle:
                try:
                    entry = json.loads(line) if line.endswith(b"\n") else None
                except ValueError:
                    entry = None
                if entry is None:
                    break
                good += len(line)
                if "dropped" in entry:
                    if entry["dropped"] > spool.acked_through:
                        spool.dropped[entry["dropped"]] = entry["length"]
                    continue
                seq, stream = entry["seq"], entry["stream"]
                if seq > spool.acked_through:  # acknowledged chunks are never read again
                    spool.chunks[seq] = (stream, entry["offset"], entry["length"], entry["ts"])
                spool.next_seq = max(spool.next_seq, seq + 1)
                spool.streams[stream].cut_at = max(spool.streams[stream].cut_at, entry["offset"] + entry["length"])
            handle.truncate(good)
        spool._index = open(spool.dir / "index", "a")  # noqa: SIM115 - kept open
        for seq in range(spool.acked_through + 1, spool.next_seq):
            if seq in spool.chunks and seq not in spool.dropped:
                budget.charge(spool.chunks[seq][2])
        spool.sent_through = spool.acked_through
        spool.cut(final=True)
        return spool


def spooled_attempts(directory: Path) -> Iterator[tuple[int, int]]:
    """(task, attempt) of every spool in `directory`."""
    for path in directory.iterdir():
        task, _, attempt = path.name.partition("-")
        if path.is_dir() and task.isdigit() and attempt.isdigit():
            yield int(task), int(attempt)


def disk_usage(directory: Path) -> int:
    return sum(entry.stat().st_blocks * 512 for entry in directory.rglob("*") if entry.is_file())
