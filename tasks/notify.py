"""After a transaction commits, tell whoever is watching: browsers (state snapshots) and agents
(nudges to reconcile now). Nothing here is needed for correctness; the database is the truth.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from scheduler_site import bus, groups
from tasks import event_feed
from tasks.models import Task, TaskEvent
from tasks.presenters import task_summary


def tasks_changed(
    tasks: Iterable[Task], *, events: Iterable[TaskEvent] = (), nudge_nodes: Iterable[int] = ()
) -> None:
    """Queue, for after commit, the new state of `tasks` and a nudge to each of `nudge_nodes`."""
    summaries = [task_summary(task) for task in tasks]
    nodes = sorted(set(nudge_nodes))
    if not summaries and not nodes:
        return
    messages = task_messages(summaries, nodes)
    event_ids = [event.pk for event in events]

    def publish() -> None:
        event_feed.mark_published(event_ids)
        bus.publish_many(messages)

    transaction.on_commit(publish)


def task_messages(summaries: list[dict], nudge_nodes: Iterable[int]) -> list[tuple[str, dict]]:
    """Channel-layer messages for changed tasks (browsers) and nodes to nudge (agents)."""
    messages: list[tuple[str, dict]] = []
    if summaries:
        messages.append((groups.EVENTS, {"type": "cluster.tasks", "tasks": summaries}))
        messages.extend(
            (groups.task_group(summary["id"]), {"type": "task.status", "task": summary})
            for summary in summaries
        )
    messages.extend((groups.node_group(node_id), {"type": "node.nudge"}) for node_id in nudge_nodes)
    return messages


def nudge_nodes(node_ids: Iterable[int]) -> None:
    tasks_changed((), nudge_nodes=node_ids)
