"""`/ws/tasks/{id}/logs/`: a task's log for browsers and the CLI: history first, then live, with
no gap and no duplicate.

The consumer joins the task's group before reading history, so nothing published meanwhile is
missed; channel-layer messages are handled only after `connect` returns, and any chunk at or
below the last sequence sent is skipped. If the layer dropped messages (a slow consumer's
channel is full), the gap is seen from the sequence numbers and filled from the database.

Query: `?attempt=N` (default: the newest, switching to newer attempts as they start) and
`?after=SEQ` to resume. Frames down: {"type": "log", attempt, seq, stream, data, ts, line, lines,
cont, gap} (docs/logs.md),
{"type": "status", status, attempt, task}, {"type": "attempt", attempt} when a new attempt starts.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from scheduler_site import groups, metrics
from scheduler_site.consumers import Consumer
from scheduler_site.dbthreads import db_call
from scheduler_site.formats import parse_id
from tasks.access import can_see_private
from tasks.logs.store import chunk_message, newest_attempt, read_chunks
from tasks.models import Task
from tasks.presenters import task_summary

# History is read in pages that grow fourfold from one chunk (at most 64 KiB, more than a screen):
# the first lines leave after a one-row query instead of waiting for megabytes to be read and
# encoded, and a long history still goes in few queries, none holding more than the largest page.
FIRST_PAGE = 1
HISTORY_PAGE = 256


def _query_int(scope: dict, name: str) -> int | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None


@db_call
def _load_task(task_id: int) -> Task | None:
    # the submitter comes along: the status frame's summary names the owner, and no query may run
    # on the event loop (SynchronousOnlyOperation)
    return Task.objects.select_related("submitter").filter(pk=task_id).first()


@db_call
def _page(task: Task, attempt: int, after: int, limit: int) -> list[dict]:
    return [chunk_message(c) for c in read_chunks(task, attempt=attempt, after=after, limit=limit)]


class TaskLogConsumer(Consumer):
    gauge = "logs"

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        task_id = parse_id(self.scope["url_route"]["kwargs"]["task_id"])
        self.task = await _load_task(task_id) if task_id else None
        if self.task is None:
            await self.close(code=4404)
            return
        if not await db_call(can_see_private)(user, self.task):  # may read permissions: off the loop
            await self.close(code=4403)
            return
        await self.join(groups.task_group(self.task.pk))
        requested = _query_int(self.scope, "attempt")
        self.pinned = requested is not None
        self.attempt = requested if self.pinned else await db_call(newest_attempt)(self.task)
        self.last_seq = _query_int(self.scope, "after")
        if self.last_seq is None:
            self.last_seq = -1
        await self._send_status(task_summary(self.task))
        await self._catch_up()

    async def _send_status(self, summary: dict) -> None:
        await self.send(text_data=json.dumps(
            {"type": "status", "status": summary["status"], "attempt": summary["attempt"], "task": summary}
        ))

    async def _send_chunks(self, chunks: list[dict]) -> None:
        for chunk in chunks:
            await self.send(text_data=json.dumps({"type": "log", **chunk}, ensure_ascii=False))
            metrics.LOG_BYTES_OUT.inc(len(chunk["data"]))
            self.last_seq = chunk["seq"]

    async def _catch_up(self) -> None:
        """Send everything stored after `last_seq` for the followed attempt."""
        if self.attempt < 1:
            return
        limit = FIRST_PAGE
        while True:
            page = await _page(self.task, self.attempt, self.last_seq, limit)
            await self._send_chunks(page)
            if len(page) < limit:
                return
            limit = min(limit * 4, HISTORY_PAGE)

    async def _follow_attempt(self, attempt: int) -> None:
        if self.pinned or attempt <= self.attempt:
            return
        self.attempt, self.last_seq = attempt, -1
        await self.send(text_data=json.dumps({"type": "attempt", "attempt": attempt}))

    # -- channel-layer messages ------------------------------------------------------------

    async def task_log(self, message: dict) -> None:
        for chunk in message["chunks"]:
            await self._follow_attempt(chunk["attempt"])
            if chunk["attempt"] != self.attempt or chunk["seq"] <= self.last_seq:
                continue
            if chunk["seq"] > self.last_seq + 1:
                await self._catch_up()  # the layer dropped something: fill the gap from the store
                continue
            await self._send_chunks([chunk])

    async def task_status(self, message: dict) -> None:
        summary = message["task"]
        await self._follow_attempt(summary["attempt"])
        await self._send_status(summary)
