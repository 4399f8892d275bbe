"""Reading a big finished log as the dashboard and the CLI do (issue 18's server-side targets):
the last page (tail first), the page holding a line in the middle (#L), and a search over every
line, on a log of --lines lines stored as the agent would cut it (64 KiB chunks).

    .venv/bin/python bench/log_reads.py [--lines 10000000] [--rounds 5] [--database-url postgres://...]

Without --database-url it uses a fresh SQLite file. Prints the median and worst ms of `--rounds`
runs per read through the real store/search functions (no HTTP), and the stored size. The issue's
targets: the last page well within 300 ms (the browser's paint comes on top), a search of 10M lines
under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.task_list import setup  # noqa: E402

CHUNK_BYTES = 64 * 1024


def fill(lines: int) -> tuple[object, int]:
    """A finished task whose attempt 1 holds `lines` lines ("line N"), cut in 64 KiB chunks."""
    from agent.protocol import line_starts
    from tasks.models import LogChunk, Task

    task = Task.objects.create(name="big-log", command="seq", cpu=100, mem=16, status="SUCCEEDED", attempt=1)
    seq = line = stored = 0
    buffer: list[bytes] = []
    size = 0
    batch: list[LogChunk] = []

    def cut() -> None:
        nonlocal seq, line, stored, buffer, size
        data = b"".join(buffer)
        count = line_starts(data, cont=False)
        batch.append(LogChunk(task=task, attempt=1, seq=seq, stream=1, data=data, ts=1.7e9 + seq / 100,
                              line=line, lines=count))
        seq, line, stored = seq + 1, line + count, stored + len(data)
        buffer, size = [], 0
        if len(batch) >= 200:
            LogChunk.objects.bulk_create(batch)
            batch.clear()

    for n in range(1, lines + 1):
        text = f"line {n}\n".encode()
        if size + len(text) > CHUNK_BYTES:
            cut()
        buffer.append(text)
        size += len(text)
    if buffer:
        cut()
    LogChunk.objects.bulk_create(batch)
    Task.objects.filter(pk=task.pk).update(log_bytes=stored)
    return task, stored


def timed(fn, rounds: int) -> tuple[float, float]:
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='bench-logs-')}/db.sqlite3"
    setup(url)
    from tasks.logs.search import search_log
    from tasks.logs.store import read_around_line, read_before, total_lines

    started = time.perf_counter()
    task, stored = fill(args.lines)
    took = time.perf_counter() - started
    print(f"# {args.lines:,} lines, {stored / 1e6:.0f} MB stored in {took:.0f} s ({url.split(':')[0]})")
    assert total_lines(task, attempt=1) == args.lines
    reads = {
        "last page (tail first)": lambda: read_before(task, attempt=1, before=None, limit=1000),
        "page holding the middle line (#L)": lambda: read_around_line(task, attempt=1, line=args.lines // 2,
                                                                      limit=1000),
        "total lines": lambda: total_lines(task, attempt=1),
        "search, 1 match, every line": lambda: search_log(task, f"line {args.lines // 3}", limit=10, budget=600),
    }
    for name, fn in reads.items():
        median, worst = timed(fn, args.rounds)
        print(f"{name:40s} median {median:9.1f} ms   worst {worst:9.1f} ms")


if __name__ == "__main__":
    main()
