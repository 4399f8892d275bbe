"""Samples the books over SQL while the soak runs: every node's allocation against its capacity and
against the sum over its ASSIGNED and RUNNING tasks, read in one REPEATABLE READ snapshot (so a
mismatch is real, not two reads straddling a commit). A PostgreSQL restart only costs samples."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg

NODES = "SELECT id, name, cpu_capacity, mem_capacity, cpu_allocated, mem_allocated, status FROM nodes_node"
HELD = ("SELECT node_id, COALESCE(SUM(cpu), 0), COALESCE(SUM(mem), 0) FROM tasks_task "
        "WHERE status IN ('ASSIGNED', 'RUNNING') AND node_id IS NOT NULL GROUP BY node_id")
ORPHANS = "SELECT COUNT(*) FROM tasks_task WHERE status IN ('ASSIGNED', 'RUNNING') AND node_id IS NULL"
CHECK = ("SELECT convalidated, pg_get_constraintdef(oid) FROM pg_constraint "
         "WHERE conname = 'node_allocated_within_capacity'")


@dataclass
class Problem:
    time: float
    kind: str  # over-capacity | books-mismatch | orphan
    text: str


def books(conn: psycopg.Connection) -> tuple[list[tuple], list[Problem]]:
    """One snapshot of the nodes and what the books say is wrong in it."""
    now = time.time()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        nodes = conn.execute(NODES).fetchall()
        held = {row[0]: (row[1], row[2]) for row in conn.execute(HELD).fetchall()}
        orphans = conn.execute(ORPHANS).fetchone()[0]
    problems = []
    for node_id, name, cpu_cap, mem_cap, cpu_alloc, mem_alloc, _status in nodes:
        if cpu_alloc > cpu_cap or mem_alloc > mem_cap:
            problems.append(Problem(now, "over-capacity",
                                    f"{name}: allocated {cpu_alloc}m/{mem_alloc}MiB of {cpu_cap}m/{mem_cap}MiB"))
        cpu_held, mem_held = held.get(node_id, (0, 0))
        if (cpu_alloc, mem_alloc) != (cpu_held, mem_held):
            problems.append(Problem(now, "books-mismatch", f"{name}: allocated {cpu_alloc}m/{mem_alloc}MiB, "
                                                           f"its tasks hold {cpu_held}m/{mem_held}MiB"))
    if orphans:
        problems.append(Problem(now, "orphan", f"{orphans} ASSIGNED/RUNNING task(s) without a node"))
    return nodes, problems


@dataclass
class Sampler:
    dsn: str
    interval: float = 0.5
    samples: int = 0
    failures: int = 0
    problems: list[Problem] = field(default_factory=list)
    peak: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # name: cpu, cap, mem, cap
    statuses: list[tuple[float, str, str]] = field(default_factory=list)  # (time, node, status) on change

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._last_status: dict[str, str] = {}

    def _run(self) -> None:
        conn = None
        while not self._stop.wait(self.interval):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsn, connect_timeout=3, autocommit=True)
                nodes, problems = books(conn)
            except psycopg.Error:
                self.failures += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            self.samples += 1
            self.problems += problems
            now = time.time()
            for _id, name, cpu_cap, mem_cap, cpu_alloc, mem_alloc, status in nodes:
                old = self.peak.get(name, (0, cpu_cap, 0, mem_cap))
                self.peak[name] = (max(old[0], cpu_alloc), cpu_cap, max(old[2], mem_alloc), mem_cap)
                if self._last_status.get(name) != status:
                    self._last_status[name] = status
                    self.statuses.append((now, name, status))
        if conn is not None:
            conn.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
