"""Output spool: a task's stdout and stderr go straight into two files of its attempt's spool
directory (the process writes at file speed and never waits on the agent, the network or a
viewer); the agent cuts what the files gain into numbered chunks and keeps them until the master
acknowledges them, so nothing is lost when the connection, the master or the agent itself drops.

    <spool>/<task>-<attempt>/stdout, stderr   the raw output, written by the process (O_APPEND)
    <spool>/<task>-<attempt>/index            one JSON line per chunk: seq, stream, offset, length, ts,
                                              cont, open
    <spool>/<task>-<attempt>/acked            the highest seq acknowledged without a gap

Order (docs/logs.md): each `cut` is one sample of both files, taken every SAMPLE_INTERVAL by the
executor; what it finds is numbered from one counter shared by both streams (stdout first), so
seq order is write order to within one sample. A chunk is a byte range of one stream: the
complete lines a sample found (at most MAX_CHUNK_BYTES, cut after a newline), or an unterminated
line once it reaches MAX_CHUNK_BYTES or output pauses for FLUSH_AFTER (never inside a UTF-8
character while the bytes are valid UTF-8). `cont` marks a chunk that continues the unterminated
last line of its stream's previous chunk. Its bytes are read back from the file when it is sent,
as base64, in frames sized by their encoded length.

A chunk in flight when the connection drops, or in a frame the master refuses, earns a strike:
struck chunks go one per frame, and a chunk that fails alone GIVE_UP_AFTER times goes as a `gap`
(its place and size, no bytes), so no frame is resent unchanged for ever.

Acknowledged ranges are punched out of the files (fallocate PUNCH_HOLE), so a long, chatty task
connected to a healthy master uses little disk. The whole spool dir is bounded (`SpoolBudget`,
1 GiB by default): when unacknowledged output passes it (the master unreachable for long), the
oldest unacknowledged chunks are dropped and their place in the log says how many bytes
("[mini-scheduler agent] N bytes of output dropped: spool full"). Never silently.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import json
import logging
import os
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agent.protocol import MAX_FRAME_BYTES, encoded_chunk_size

log = logging.getLogger("agent.spool")

STREAMS = ("stdout", "stderr")
MAX_CHUNK_BYTES = 64 * 1024
FLUSH_AFTER = 0.05
SAMPLE_INTERVAL = 0.01  # the executor samples a running task's output at least this often
HOLD_PARTIAL_CHARACTER = 1.0  # an incomplete UTF-8 sequence at the end waits at most this for its rest
SNAPSHOT_TRIES = 5
GIVE_UP_AFTER = 3  # failures of a chunk sent alone before it goes as a gap
FRAME_ENVELOPE_BYTES = 64  # {"type": "logs", "chunks": [...]} around the chunks
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
        self.open = False  # the last chunk cut ended mid-line

    def size(self) -> int:
        return os.fstat(self.fd).st_size


class AttemptSpool:
    def __init__(self, directory: Path, task: int, attempt: int, budget: SpoolBudget) -> None:
        self.task, self.attempt, self.budget = task, attempt, budget
        self.dir = directory / f"{task}-{attempt}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.streams = {name: _Stream(self.dir / name) for name in STREAMS}
        self.chunks: dict[int, tuple[str, int, int, float, bool]] = {}  # seq -> stream, offset, length, ts, cont
        self.dropped: dict[int, int] = {}  # seq -> bytes dropped in its place
        self.strikes: dict[int, int] = {}  # seq -> failed deliveries (a drop or a refusal while in flight)
        self.gave_up: set[int] = set()  # chunks that go as a gap
        self.next_seq = 0
        self.acked_through = -1
        self._acked_ahead: set[int] = set()
        self.sent_through = -1
        self.closed = False  # the process ended and its last output is cut
        self._sampled_at: float | None = None  # wall time of the previous sample
        self._created = time.time()
        self._last_ts = 0.0  # chunks' times never go back
        self.removed = False  # files closed and deleted: every method is a no-op from then on
        self._index = open(self.dir / "index", "a")  # noqa: SIM115 - kept open
        self._lock = threading.RLock()
        WRITES.watch(self)

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
        """One sample of both files: cut what they gained into chunks; returns whether any were cut.
        Complete lines are cut at once (at most MAX_CHUNK_BYTES each, after their last newline); an
        unterminated line waits FLUSH_AFTER for its end, unless it fills a chunk."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.removed:
                return False
            stats = self._snapshot()
            runs = WRITES.runs(self)
            pieces = {name: self._plan(name, stats[name].st_size, final=final, now=now) for name in STREAMS}
            groups = _interleave(pieces, runs, stats, since=self._sampled_at or self._created)
            last_of = {name: max((i for i, (n, _) in enumerate(groups) if n == name), default=-1) for name in STREAMS}
            for index, (name, units) in enumerate(groups):
                mtime = stats[name].st_mtime_ns / 1e9
                ts = mtime if index == last_of[name] else min(mtime, self._sampled_at or mtime)
                self._emit(name, units, max(ts, self._last_ts))
            self._sampled_at = time.time()
            if final:
                self._finish()
            self._enforce_budget()
        return bool(groups)

    def _plan(self, name: str, size: int, *, final: bool, now: float) -> list[tuple[int, bytes]]:
        """The byte ranges of `name` to cut now, as (offset, bytes); advances its cut position."""
        stream = self.streams[name]
        out = []
        while stream.cut_at < size:
            data = os.pread(stream.fd, min(size - stream.cut_at, MAX_CHUNK_BYTES), stream.cut_at)
            length = self._cut_length(stream, data, final=final, now=now)
            if length == 0:
                break
            out.append((stream.cut_at, data[:length]))
            stream.cut_at += length
            if stream.cut_at >= size or data[:length].endswith(b"\n"):
                stream.since = None
        return out

    def _emit(self, name: str, units: list[tuple[int, bytes]], ts: float) -> None:
        """Contiguous ranges of one stream as chunks of at most MAX_CHUNK_BYTES."""
        stream = self.streams[name]
        start, buffer = None, b""
        for offset, data in [*units, (None, b"")]:
            if start is not None and (offset is None or len(buffer) + len(data) > MAX_CHUNK_BYTES):
                open_end = not buffer.endswith(b"\n")
                self._add_chunk(name, start, len(buffer), ts, cont=stream.open, open_end=open_end)
                stream.open = open_end
                start, buffer = None, b""
            if offset is None:
                break
            if start is None:
                start = offset
            buffer += data
        self._last_ts = ts

    def _snapshot(self) -> dict[str, os.stat_result]:
        """Both files as they were at one moment: stdout, stderr, then stdout again, until stdout did
        not change meanwhile (else a line written to stderr after one written to stdout could be
        seen without it). Output that never pauses gets the last look (order within a sample)."""
        out, err = self.streams["stdout"].fd, self.streams["stderr"].fd
        first = os.fstat(out)
        for _ in range(SNAPSHOT_TRIES):
            stderr = os.fstat(err)
            again = os.fstat(out)
            if again.st_size == first.st_size:
                break
            first = again
        return {"stdout": again, "stderr": stderr}

    @staticmethod
    def _cut_length(stream: _Stream, data: bytes, *, final: bool, now: float) -> int:
        if len(data) == MAX_CHUNK_BYTES:
            return data.rfind(b"\n") + 1 or safe_cut(data) or len(data)
        lines = data.rfind(b"\n") + 1
        if lines:
            return lines
        if final:
            return len(data)
        stream.since = stream.since or now
        waited = now - stream.since
        if waited < FLUSH_AFTER:
            return 0
        return safe_cut(data) or (len(data) if waited >= HOLD_PARTIAL_CHARACTER else 0)

    def _add_chunk(self, stream: str, offset: int, length: int, ts: float, *, cont: bool = False,
                   open_end: bool = False) -> None:
        seq = self.next_seq
        self.next_seq += 1
        self.chunks[seq] = (stream, offset, length, ts, cont)
        self.budget.charge(length)
        self._index.write(json.dumps({"seq": seq, "stream": stream, "offset": offset, "length": length, "ts": ts,
                                      "cont": cont, "open": open_end}) + "\n")
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
                stream, offset, length, _, _ = self.chunks[seq]
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
        """Chunk `seq` as sent (protocol.chunk without task and attempt)."""
        with self._lock:  # a closed descriptor's number may already be another file's
            where = None if self.removed else self.chunks.get(seq)
            if where is None:
                return None
            stream, offset, length, ts, cont = where
            if seq in self.dropped:
                data = DROP_MARKER.format(n=self.dropped[seq], limit=self.budget.limit).encode()
                return {"seq": seq, "stream": "stderr", "b64": base64.b64encode(data).decode("ascii"), "ts": ts}
            if seq in self.gave_up:
                return {"seq": seq, "stream": stream, "b64": "", "ts": ts, "gap": length}
            data = os.pread(self.streams[stream].fd, length, offset)
        out = {"seq": seq, "stream": stream, "b64": base64.b64encode(data).decode("ascii"), "ts": ts}
        if cont:
            out["cont"] = True
        return out

    def _size(self, seq: int) -> int:
        where = self.chunks[seq]
        if seq in self.dropped:
            return encoded_chunk_size(len(DROP_MARKER) + 40)
        return encoded_chunk_size(0 if seq in self.gave_up else where[2])

    def unsent(self, max_bytes: int = MAX_FRAME_BYTES) -> list[dict]:
        """The next chunks to send (after sent_through), for one frame of at most max_bytes encoded.
        A chunk that failed before goes alone."""
        with self._lock:
            out, size, seq = [], FRAME_ENVELOPE_BYTES, self.sent_through + 1
            while seq < self.next_seq and seq in self.chunks:
                struck = self.strikes.get(seq, 0) > 0
                if out and (struck or size + self._size(seq) > max_bytes):
                    break
                chunk = self.chunk(seq)
                if chunk is None:
                    break
                out.append(chunk)
                size += self._size(seq)
                seq += 1
                if struck:
                    break
            return out

    def in_flight_bytes(self) -> int:
        """Bytes sent and not acknowledged yet."""
        with self._lock:
            return sum(self.chunks[seq][2] for seq in range(self.acked_through + 1, self.sent_through + 1)
                       if seq in self.chunks)

    def _strike_in_flight(self) -> None:
        for seq in range(self.acked_through + 1, self.sent_through + 1):
            if seq not in self.chunks or seq in self._acked_ahead:
                continue
            self.strikes[seq] = strikes = self.strikes.get(seq, 0) + 1
            if strikes > GIVE_UP_AFTER and seq not in self.gave_up and seq not in self.dropped:
                self.gave_up.add(seq)
                log.warning("a chunk of output failed to reach the master again and again; sending its place "
                            "as a gap", extra={"task": self.task, "attempt": self.attempt, "seq": seq,
                                                "bytes": self.chunks[seq][2]})

    def refused(self) -> None:
        """The master refused a logs frame: strike what is in flight and send it again."""
        with self._lock:
            self._strike_in_flight()
            self.sent_through = self.acked_through

    def mark_sent(self, seq: int) -> None:
        with self._lock:
            self.sent_through = max(self.sent_through, seq)

    def rewind(self) -> None:
        """After a disconnect: everything not acknowledged goes again (what was in flight is struck)."""
        with self._lock:
            self._strike_in_flight()
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
                self.strikes.pop(seq, None)
                self.gave_up.discard(seq)
                if self.dropped.pop(seq, None) is not None or where is None:
                    continue
                stream, offset, length, _, _ = where
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
        WRITES.unwatch(self)
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
                    spool.chunks[seq] = (stream, entry["offset"], entry["length"], entry["ts"],
                                         bool(entry.get("cont")))
                spool.next_seq = max(spool.next_seq, seq + 1)
                end = entry["offset"] + entry["length"]
                if end >= spool.streams[stream].cut_at:
                    spool.streams[stream].cut_at = end
                    spool.streams[stream].open = bool(entry.get("open"))
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


def _lines(units: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Ranges split after every newline."""
    out = []
    for offset, data in units:
        start = 0
        while start < len(data):
            end = data.find(b"\n", start) + 1 or len(data)
            out.append((offset + start, data[start:end]))
            start = end
    return out


def _interleave(pieces: dict[str, list[tuple[int, bytes]]], runs: list[str] | None,
                stats: dict[str, os.stat_result], *, since: float) -> list[tuple[str, list[tuple[int, bytes]]]]:
    """The order to number one sample's output in, as (stream, ranges) groups.

    `runs` is the order the process switched between its streams since the last sample (from the
    kernel's write events). Runs say where the switches were, not how many lines each run held:
    - A, B, A (the usual case: a line on one stream amid output on the other): B's write time is
      its file's mtime, so A's lines are split at the same fraction of the time from the previous
      sample (`since`) to A's last write (A written at a steady pace);
    - more switches: each stream's lines shared over its runs evenly (exact when every write is one
      line, the usual way to alternate).
    Without runs (no events, or an overflow), the stream written to last goes last."""
    present = [name for name in STREAMS if pieces[name]]
    if len(present) < 2:
        return [(name, pieces[name]) for name in present]
    switches = []
    for name in runs or []:
        if pieces[name] and (not switches or switches[-1] != name):
            switches.append(name)
    if len(switches) <= 2:
        if len(switches) == 2:
            order = switches
        else:
            order = sorted(present, key=lambda name: (stats[name].st_mtime_ns, name != "stdout"))
        return [(name, pieces[name]) for name in order]
    lines = {name: _lines(pieces[name]) for name in present}
    if len(switches) == 3:
        outer, inner = switches[0], switches[1]
        last_outer = stats[outer].st_mtime_ns / 1e9
        at_inner = stats[inner].st_mtime_ns / 1e9
        fraction = 1.0 if last_outer <= since else (at_inner - since) / (last_outer - since)
        before = round(min(1.0, max(0.0, fraction)) * len(lines[outer]))
        if len(lines[outer]) >= 2:  # both runs of `outer` wrote something
            before = min(len(lines[outer]) - 1, max(1, before))
        groups = [(outer, lines[outer][:before]), (inner, lines[inner]), (outer, lines[outer][before:])]
        return [(name, units) for name, units in groups if units]
    runs_left = {name: switches.count(name) for name in present}
    groups = []
    for name in switches:
        left = lines[name]
        take = len(left) if runs_left[name] == 1 else -(-len(left) // runs_left[name])
        runs_left[name] -= 1
        if take:
            groups.append((name, left[:take]))
            lines[name] = left[take:]
    return groups


class WriteOrder:
    """The order processes write to their spool files, from the kernel: one inotify instance for the
    agent, a watch (IN_MODIFY) per spool file. Events queue in the order the writes happen, and
    consecutive writes to one file make one event, so the queue is the sequence of switches
    between a task's stdout and stderr, however late the agent samples. Where inotify is missing
    or its queue overflows, `runs` answers None and samples fall back to the files' mtimes."""

    IN_MODIFY, IN_Q_OVERFLOW, IN_NONBLOCK, IN_CLOEXEC = 0x2, 0x4000, 0o4000, 0o2000000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._failed = False
        self._watches: dict[int, tuple[int, str]] = {}  # wd -> (id of the spool, stream)
        self._runs: dict[int, list[str] | None] = {}  # id of the spool -> switches since its last sample

    def _ready(self) -> bool:
        if self._fd is None and not self._failed:
            fd = _libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
            if fd < 0:
                self._failed = True
                log.warning("no inotify: stdout/stderr order is kept to within one sample only")
            else:
                self._fd = fd
        return self._fd is not None

    def watch(self, spool: AttemptSpool) -> None:
        with self._lock:
            if not self._ready():
                return
            self._runs[id(spool)] = []
            for name, stream in spool.streams.items():
                wd = _libc.inotify_add_watch(self._fd, str(stream.path).encode(), self.IN_MODIFY)
                if wd < 0:
                    self._runs[id(spool)] = None
                    continue
                self._watches[wd] = (id(spool), name)

    def unwatch(self, spool: AttemptSpool) -> None:
        with self._lock:
            if self._fd is None:
                return
            for wd in [wd for wd, (owner, _) in self._watches.items() if owner == id(spool)]:
                _libc.inotify_rm_watch(self._fd, wd)
                del self._watches[wd]
            self._runs.pop(id(spool), None)

    def runs(self, spool: AttemptSpool) -> list[str] | None:
        """The switches `spool`'s process made since its last sample (None: unknown)."""
        with self._lock:
            if self._fd is None:
                return None
            self._drain()
            runs = self._runs.get(id(spool))
            if id(spool) in self._runs:
                self._runs[id(spool)] = []
            return runs

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                return
            offset = 0
            while offset + 16 <= len(data):
                wd, mask, _, size = _EVENT.unpack_from(data, offset)
                offset += 16 + size
                if mask & self.IN_Q_OVERFLOW:
                    for key in self._runs:
                        self._runs[key] = None
                    continue
                owner = self._watches.get(wd)
                if owner is None:
                    continue
                runs = self._runs.get(owner[0])
                if runs is not None and (not runs or runs[-1] != owner[1]):
                    runs.append(owner[1])


_EVENT = struct.Struct("iIII")
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
WRITES = WriteOrder()
