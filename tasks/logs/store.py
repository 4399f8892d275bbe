"""The chunk store: agents' chunks in, deduplicated by (task, attempt, seq), fenced by attempt,
capped per task, and relayed to the task's subscribers after commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max

from agent.protocol import Chunk
from scheduler_site import bus, groups, metrics
from tasks.agents import fencing
from tasks.models import LogChunk, LogStream, Task

STREAMS = {"stdout": LogStream.STDOUT, "stderr": LogStream.STDERR}
STREAM_NAMES = {value: key for key, value in STREAMS.items()}
CAP_MARKER = "\n[mini-scheduler] log cap of {cap} bytes reached: later output of this task is not stored.\n"


IncomingChunk = Chunk  # as `agent.protocol.parse_chunks` hands them over


def chunk_message(chunk: LogChunk) -> dict:
    return {
        "attempt": chunk.attempt,
        "seq": chunk.seq,
        "stream": STREAM_NAMES[chunk.stream],
        "data": chunk.data,
        "ts": chunk.ts,
    }


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; keep the byte visible as U+FFFD rather than fail the chunk.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


Acked = list[tuple[int, int, int]]
Stale = list[tuple[int, int]]


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
                data = _clean(chunk.data)
                size = len(data.encode())
                if used + size > cap:
                    dropped_bytes += size
                    data = CAP_MARKER.format(cap=cap) if used <= cap else ""
                    used = cap + 1
                else:
                    used += size
                    stored_bytes += size
                fresh.append(LogChunk(task_id=task_id, attempt=attempt, seq=chunk.seq,
                                      stream=STREAMS[chunk.stream], data=data, ts=chunk.ts))
            if fresh:
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
