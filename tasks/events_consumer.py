"""`/ws/events/`: live cluster changes for the dashboard (task transitions, node state and usage).

Frames down: {"type": "tasks", "tasks": [task...]} and {"type": "nodes", "nodes": [node...]},
the same shapes as the REST lists, and {"type": "usage", "nodes": [{id, cpu_usage, mem_usage,
last_heartbeat}...]}, partial updates from heartbeats. Publishers coalesce (placement batches, heartbeat usage once a
second per process), so a busy cluster does not flood the browser.
"""

from __future__ import annotations

import json

from scheduler_site import groups
from scheduler_site.consumers import Consumer


class EventsConsumer(Consumer):
    gauge = "events"

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.join(groups.EVENTS)
        await self.send(text_data=json.dumps({"type": "hello"}))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == '{"type":"ping"}':
            await self.send(text_data='{"type":"pong"}')

    async def cluster_tasks(self, message: dict) -> None:
        await self.send(text_data=json.dumps({"type": "tasks", "tasks": message["tasks"]}))

    async def cluster_usage(self, message: dict) -> None:
        await self.send(text_data=json.dumps({"type": "usage", "nodes": message["nodes"]}))

    async def cluster_history(self, message: dict) -> None:
        """A history bucket just recorded (tasks.history): the charts append it, no re-fetch."""
        await self.send(text_data=json.dumps({"type": "history", "step": message["step"], "point": message["point"],
                                              "nodes": message["nodes"]}))

    async def cluster_nodes(self, message: dict) -> None:
        await self.send(text_data=json.dumps({"type": "nodes", "nodes": message["nodes"]}))
