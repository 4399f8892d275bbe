"""The chunk store: agents' chunks in, deduplicated by (task, attempt, seq), fenced by attempt,
capped per task, numbered by line, and relayed to the task's subscribers after commit; and the
reads every log reader shares (pages by seq, the tail, the page holding a line).

Chunks hold bytes (docs/logs.md). Each stored chunk gets `lines` (lines that start in it) and
`line` (the number of its first line over the attempt): normally from the chunk before it; when a
chunk arrives after later ones (a frame refused, then resent), the attempt's later lines are
renumbered.
"""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max

from agent.protocol import Chunk, line_starts
from scheduler_site import bus, groups, metrics
from tasks.agents import fencing
from tasks.models import LogChunk, LogStream, Task

STREAMS = {"stdout": LogStream.STDOUT, "stderr": LogStream.STDERR}
STREAM_NAMES = {value: key for key, value in STREAMS.items()}
CAP_MARKER = "\n[mini-scheduler] log cap of {cap} bytes reached: later output of this task is not stored.\n"
GAP_MARKER = "\n[mini-scheduler] {n} bytes of output lost here: {why}\n"
PAGE_BYTES = 256 * 1024  # a page of chunks for readers holds about this much data


IncomingChunk = Chunk  # as `agent.protocol.parse_chunks` hands them over


def text_of(data: bytes) -> str:
    """Stored bytes as display text: invalid UTF-8 shows as U+FFFD (the bytes stay as they are)."""
    return bytes(data).decode("utf-8", errors="replace")


def chunk_message(chunk: LogChunk, *, exact: bool = False) -> dict:
    """A chunk for readers (socket frames, REST); `exact` adds `b64`, the bytes themselves."""
    data = bytes(chunk.data)
    message = {
        "attempt": chunk.attempt,
        "seq": chunk.seq,
        "stream": STREAM_NAMES[chunk.stream],
        "data": text_of(data),
        "ts": chunk.ts,
        "line": chunk.line,
        "lines": chunk.lines,
        "cont": chunk.cont,
        "gap": chunk.gap,
    }
    if exact:
        message["b64"] = base64.b64encode(data).decode("ascii")
    return message


Acked = list[tuple[int, int, int]]
Stale = list[tuple[int, int]]


def _content(chunk: IncomingChunk) -> tuple[bytes, int, bool]:
    """(bytes to store, stream, cont) of an incoming chunk; gaps become their marker line."""
    if chunk.refused or chunk.gap:
        why = f"the master refused it ({chunk.refused})" if chunk.refused else "the agent could not deliver it"
        source = "master" if chunk.refused else "agent"
        metrics.LOG_GAPS.labels(source=source).inc()
        metrics.LOG_GAP_BYTES.labels(source=source).inc(chunk.gap)
        return GAP_MARKER.format(n=chunk.gap, why=why).encode(), LogStream.STDERR, False
    return chunk.data, STREAMS[chunk.stream], chunk.cont


def store_chunks(node_id: int, chunks: Iterable[IncomingChunk]) -> tuple[Acked, Stale]:
    """Store chunks from `node_id`. Returns (acknowledged (task, attempt, seq), stale (task, attempt)).

    A chunk already stored is acknowledged again and changes nothing; a chunk for an attempt the
    node does not hold is refused (fencing) and its sender should stop that copy.
    """
    by_attempt: dict[tuple[int, int], list[IncomingChunk]] = defaultdict(list)
    for chunk in chunks:
        by_attempt[(chunk.task, chunk.attempt)].append(chunk)
    acked: Acked = []
    stale: Stale = []
    relay: list[tuple[str, dict]] = []
    cap = settings.SCHEDULER_LOG_MAX_BYTES_PER_TASK
    now = time.time()
    with transaction.atomic():
        tasks = Task.objects.in_bulk([task_id for task_id, _ in by_attempt])
        for (task_id, attempt), batch in by_attempt.items():
            task = tasks.get(task_id)
            if task is None or not fencing.is_current(task, node_id=node_id, attempt=attempt):
                stale.append((task_id, attempt))
                continue
            seqs = [chunk.seq for chunk in batch]
            existing = set(
                LogChunk.objects.filter(task_id=task_id, attempt=attempt, seq__in=seqs).values_list("seq", flat=True)
            )
            fresh: list[LogChunk] = []
            stored_bytes = dropped_bytes = 0
            used = task.log_bytes
            for chunk in sorted(batch, key=lambda c: c.seq):
                if chunk.seq in existing:
                    continue
                existing.add(chunk.seq)
                data, stream, cont = _content(chunk)
                size = len(data)
                if used + size > cap:
                    dropped_bytes += size
                    data = CAP_MARKER.format(cap=cap).encode() if used <= cap else b""
                    stream, cont = LogStream.STDERR, False
                    used = cap + 1
                else:
                    used += size
                    stored_bytes += size
                fresh.append(LogChunk(task_id=task_id, attempt=attempt, seq=chunk.seq, stream=stream, data=data,
                                      ts=now if chunk.ts is None else chunk.ts, cont=cont,
                                      lines=line_starts(data, cont=cont), gap=chunk.gap))
            if fresh:
                _number_lines(task_id, attempt, fresh)
                metrics.LOG_BYTES_IN.inc(stored_bytes)
                LogChunk.objects.bulk_create(fresh, ignore_conflicts=True)
                Task.objects.filter(pk=task_id).update(
                    log_bytes=F("log_bytes") + stored_bytes, log_bytes_dropped=F("log_bytes_dropped") + dropped_bytes
                )
                task.log_bytes = used
                relay.append((groups.task_group(task_id),
                              {"type": "task.log", "chunks": [chunk_message(c) for c in fresh]}))
            acked.extend((task_id, attempt, seq) for seq in seqs)
        if relay:
            transaction.on_commit(lambda: bus.publish_many(relay))
    return acked, stale


def _number_lines(task_id: int, attempt: int, fresh: list[LogChunk]) -> None:
    """Give `fresh` (sorted by seq, not stored yet) their line numbers; renumber stored later chunks
    when some of `fresh` come before them."""
    stored = LogChunk.objects.filter(task_id=task_id, attempt=attempt)
    before = stored.filter(seq__lt=fresh[0].seq).order_by("-seq").values_list("line", "lines").first()
    line = before[0] + before[1] if before else 0
    later = list(stored.filter(seq__gt=fresh[0].seq).order_by("seq").values_list("pk", "seq", "lines"))
    if not later:
        for chunk in fresh:
            chunk.line = line
            line += chunk.lines
        return
    # Late arrivals among stored chunks: walk them all in seq order and renumber what moved.
    merged = sorted([(c.seq, c) for c in fresh] + [(seq, (pk, lines)) for pk, seq, lines in later],
                    key=lambda item: item[0])
    moved: list[LogChunk] = []
    for _, item in merged:
        if isinstance(item, LogChunk):
            item.line = line
            line += item.lines
        else:
            pk, lines = item
            moved.append(LogChunk(pk=pk, line=line))
            line += lines
    LogChunk.objects.bulk_update(moved, ["line"], batch_size=1000)


def newest_attempt(task: Task) -> int:
    """The attempt logs show by default: the current one, or the last that wrote output."""
    if task.attempt:
        return task.attempt
    return LogChunk.objects.filter(task=task).aggregate(m=Max("attempt"))["m"] or 0


def attempts_with_logs(task: Task) -> list[int]:
    return sorted(set(LogChunk.objects.filter(task=task).values_list("attempt", flat=True).distinct()))


def read_chunks(task: Task, *, attempt: int, after: int = -1, limit: int = 1000) -> list[LogChunk]:
    return list(
        LogChunk.objects.filter(task=task, attempt=attempt, seq__gt=after).order_by("seq")[:limit]
    )


def _within_budget(chunks: list[LogChunk], budget: int) -> list[LogChunk]:
    """The first chunks of `chunks` that fit in `budget` bytes (always at least one)."""
    out, size = [], 0
    for chunk in chunks:
        size += len(chunk.data)
        if out and size > budget:
            break
        out.append(chunk)
    return out


def read_before(task: Task, *, attempt: int, before: int | None, limit: int,
                budget: int = PAGE_BYTES) -> list[LogChunk]:
    """The page of chunks just before seq `before` (None: the log's end), oldest first."""
    rows = LogChunk.objects.filter(task=task, attempt=attempt)
    if before is not None:
        rows = rows.filter(seq__lt=before)
    newest_first = _within_budget(list(rows.order_by("-seq")[:limit]), budget)
    return newest_first[::-1]


def read_around_line(task: Task, *, attempt: int, line: int, limit: int, budget: int = PAGE_BYTES) -> list[LogChunk]:
    """The page that starts with the chunk where line `line` starts (or the tail if it is past the end)."""
    rows = LogChunk.objects.filter(task=task, attempt=attempt)
    first = rows.filter(line__lte=line, lines__gt=0).order_by("-line", "-seq").values_list("seq", flat=True).first()
    if first is None:
        return _within_budget(list(rows.order_by("seq")[:limit]), budget)
    page = _within_budget(list(rows.filter(seq__gte=first).order_by("seq")[:limit]), budget)
    last = page[-1] if page else None
    if last is not None and last.line + last.lines <= line:  # past the end: show the tail
        return read_before(task, attempt=attempt, before=None, limit=limit, budget=budget)
    return page


def total_lines(task: Task, *, attempt: int) -> int:
    last = (LogChunk.objects.filter(task=task, attempt=attempt).order_by("-seq")
            .values_list("line", "lines").first())
    return last[0] + last[1] if last else 0
