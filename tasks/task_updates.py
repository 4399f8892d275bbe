"""Publishes task changes after their transaction commits: each task's new state to browsers (the
cluster stream and the task's followers) and, to each node whose assignments changed, its full
desired state (a nudge to reconcile now). Nothing here is needed for correctness; the database is
the truth. It also remembers which task events this process published itself, so the event feed
(`tasks.event_feed`) does not publish them twice.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from django.db import transaction

from scheduler_site import bus, groups
from tasks import owners
from tasks.agents.desired import desired_for_nodes
from tasks.models import Task, TaskEvent
from tasks.presenters import task_summary

REMEMBERED = 100_000

_published_order: deque[int] = deque()
_published: set[int] = set()
_lock = threading.Lock()


def tasks_changed(
    tasks: Iterable[Task], *, events: Iterable[TaskEvent] = (), nudge_nodes: Iterable[int] = ()
) -> None:
    """Queue, for after commit, the new state of `tasks` and a nudge to each of `nudge_nodes`."""
    tasks = list(tasks)
    owners.names_of({task.submitter_id for task in tasks if task.submitter_id is not None})  # one query a batch
    summaries = [task_summary(task) for task in tasks]
    nodes = sorted(set(nudge_nodes))
    if not summaries and not nodes:
        return
    messages = task_messages(summaries)
    event_ids = [event.pk for event in events]

    def publish() -> None:
        mark_published(event_ids)
        bus.publish_many(messages + desired_messages(nodes))

    transaction.on_commit(publish)


def desired_messages(node_ids: Iterable[int]) -> list[tuple[str, dict]]:
    """Each node's full desired state, read now (after commit), for its agent: level-triggered,
    so it costs the agent no round trip, and a lost one costs one heartbeat of latency."""
    node_ids = sorted(set(node_ids))
    if not node_ids:
        return []
    return [(groups.node_group(node_id), {"type": "node.desired", "desired": answer})
            for node_id, answer in desired_for_nodes(node_ids).items()]


def task_messages(summaries: list[dict]) -> list[tuple[str, dict]]:
    """Channel-layer messages for changed tasks: the cluster stream and each task's followers."""
    messages: list[tuple[str, dict]] = []
    if summaries:
        messages.append((groups.EVENTS, {"type": "cluster.tasks", "tasks": summaries}))
        messages.extend(
            (groups.task_group(summary["id"]), {"type": "task.status", "task": summary})
            for summary in summaries
        )
    return messages


def mark_published(event_ids: Iterable[int]) -> None:
    """This process published these task events itself."""
    with _lock:
        for event_id in event_ids:
            if event_id is None or event_id in _published:
                continue
            _published.add(event_id)
            _published_order.append(event_id)
        while len(_published_order) > REMEMBERED:
            _published.discard(_published_order.popleft())


def was_published(event_id: int) -> bool:
    with _lock:
        return event_id in _published
