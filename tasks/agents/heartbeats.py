"""Heartbeats over the agent WebSocket, written in batches: while one batch is being written,
the heartbeats that arrive wait, and go together in the next single UPDATE, each answered with its
node's generation. Under light load a heartbeat is written at once; under heavy load batches grow
instead of queues. A 10,000-node cluster beating every 3 s is ~3,300 heartbeats a second; one
statement per batch instead of one transaction per heartbeat is what lets a single master hold
that. (HTTP heartbeats, the fallback when the socket is down, take the full path.)
"""

from __future__ import annotations

import asyncio
import logging

from nodes.health import record_heartbeats
from scheduler_site.dbthreads import db_call_hot
from scheduler_site.statuses import NodeStatus

MAX_BATCH = 5000
log = logging.getLogger("tasks.agents.heartbeats")


class HeartbeatBatcher:
    def __init__(self) -> None:
        self._pending: list[tuple[int, float | None, float | None, list | None, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def beat(self, node_id: int, cpu: float | None, mem: float | None,
                   gpu: list | None = None) -> tuple[int, str, bool]:
        """Record a heartbeat; returns the node's (generation, status, draining) once written."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((node_id, cpu, mem, gpu, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
        return await future

    async def _flush_loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            latest = {node_id: (node_id, cpu, mem, gpu) for node_id, cpu, mem, gpu, _ in batch}
            try:
                answers = await db_call_hot(record_heartbeats)(list(latest.values()))
            except Exception as error:
                log.exception("writing a batch of heartbeats failed", extra={"batch": len(batch)})
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for node_id, *_, future in batch:
                if not future.done():
                    future.set_result(answers.get(node_id, (None, NodeStatus.OFFLINE, False)))


batcher = HeartbeatBatcher()
