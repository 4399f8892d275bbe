"""The event feed: with the in-memory channel layer (one master, the default), changes made by
other processes (the sweeper's requeues and placements, an operator's command) cannot reach
this master's WebSockets through the layer. The master tails the event tables instead, like a
Kubernetes watch on resourceVersion: every POLL_INTERVAL it reads TaskEvent and NodeEvent rows
newer than the last it saw and publishes them locally, skipping those this process published
itself. With Redis every process publishes to every other, and the feed is not started.

Correctness never depends on it: agents also learn their desired state from every heartbeat.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections
from django.db.models import Max

from scheduler_site import bus, groups
from scheduler_site.statuses import ACTIVE_STATUSES
from tasks import task_updates

log = logging.getLogger("tasks.event_feed")

POLL_INTERVAL = 0.2
HISTORY_EVERY = 2.0  # seconds between looks for a new history bucket (written every 10 s)


class EventFeed:
    def __init__(self) -> None:
        self.last_task_event: int | None = None
        self.last_node_event: int | None = None
        self.last_history = None
        self.history_checked = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def catch_up_marks(self) -> None:
        """Start from now: what happened before this process started is in the REST lists."""
        from nodes.models import NodeEvent
        from tasks.models import TaskEvent

        self.last_task_event = TaskEvent.objects.aggregate(m=Max("id"))["m"] or 0
        self.last_node_event = NodeEvent.objects.aggregate(m=Max("id"))["m"] or 0
        from tasks.history.feed import newest_bucket

        self.last_history = newest_bucket()

    def _run(self) -> None:
        while self.last_task_event is None and not self._stop.is_set():
            try:
                self.catch_up_marks()
            except Exception:
                log.exception("event feed cannot read the database yet")
                close_old_connections()
                self._stop.wait(1)
        while not self._stop.wait(POLL_INTERVAL):
            try:
                self.poll()
            except Exception:
                log.exception("event feed poll failed")
                close_old_connections()

    def poll(self) -> int:
        """Publish what other processes changed since the last poll; returns how many events."""
        from nodes.models import NodeEvent
        from nodes.presenters import node_summary
        from nodes.selectors import nodes_with_counts
        from tasks.models import Task, TaskEvent
        from tasks.presenters import task_summary

        events = list(
            TaskEvent.objects.filter(id__gt=self.last_task_event).order_by("id")
            .values_list("id", "task_id", "node_id", "from_status", "to_status")[:5000]
        )
        if events:
            self.last_task_event = events[-1][0]
        foreign = [e for e in events if not task_updates.was_published(e[0])]
        messages: list[tuple[str, dict]] = []
        if foreign:
            tasks = Task.objects.filter(pk__in={e[1] for e in foreign})
            nudge = {node for _, _, node, before, after in foreign
                     if node and (after in ACTIVE_STATUSES or before in ACTIVE_STATUSES)}
            messages += (task_updates.task_messages([task_summary(t) for t in tasks])
                         + task_updates.desired_messages(nudge))
        node_events = list(NodeEvent.objects.filter(id__gt=self.last_node_event).values_list("id", "node_id"))
        node_ids = {node_id for _, node_id in node_events}
        if node_events:
            self.last_node_event = max(event_id for event_id, _ in node_events)
        if node_ids:
            nodes = [node_summary(n) for n in nodes_with_counts().filter(pk__in=node_ids)]
            messages.append((groups.EVENTS, {"type": "cluster.nodes", "nodes": nodes}))
        messages += self.history_messages()
        bus.publish_many(messages)
        return len(foreign)

    def history_messages(self) -> list[tuple[str, dict]]:
        """Buckets the sweeper recorded since the last look (tasks.history), now and then."""
        import time

        from tasks.history.feed import messages_since

        if time.monotonic() - self.history_checked < HISTORY_EVERY:
            return []
        self.history_checked = time.monotonic()
        found, self.last_history = messages_since(self.last_history)
        if self.last_history is None:
            from tasks.history.feed import newest_bucket

            self.last_history = newest_bucket()
        return [(groups.EVENTS, message) for message in found]


_feed: EventFeed | None = None


def start_if_needed() -> None:
    """Start the feed in a master process that uses the in-memory channel layer."""
    global _feed
    from django.conf import settings

    if _feed is None and not settings.REDIS_URL:
        _feed = EventFeed()
        _feed.start()
