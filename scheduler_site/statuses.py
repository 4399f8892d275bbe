"""The status vocabularies of tasks and nodes, defined once and importable anywhere (pure: no
Django), so the ORM layers, the placement's pure modules, the presenters and the metrics use the
same names and sets instead of literals. The state machines themselves live in `tasks.states`
(tasks) and `nodes.health` (nodes).
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    ASSIGNED = "ASSIGNED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class NodeStatus(StrEnum):
    ONLINE = "ONLINE"
    UNHEALTHY = "UNHEALTHY"
    OFFLINE = "OFFLINE"


# A task holds a node's resources while ASSIGNED or RUNNING; it is done once terminal.
ACTIVE_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.RUNNING)
TERMINAL_STATUSES = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)
TASK_STATUSES = tuple(TaskStatus)
NODE_STATUSES = tuple(NodeStatus)


def choices(vocabulary: type[StrEnum]) -> list[tuple[str, str]]:
    """Django `choices` for a model field (labels as Django's TextChoices would make them)."""
    return [(member.value, member.value.replace("_", " ").title()) for member in vocabulary]


class WaitReason(StrEnum):
    """Why a PENDING task waits: exactly one kind at a time, checked in this order (the placement
    pass asks its holds in this order, then the filters). Stored in `Task.status_reason`, with the
    text in `Task.status_message`."""

    DEPENDENCY = "Dependency"  # waiting for another task
    BACKOFF = "Backoff"  # a retry not before a time
    THROTTLE = "Throttle"  # its array's limit of tasks at once is reached
    QUOTA = "Quota"  # its owner's or group's limit
    UNSCHEDULABLE = "Unschedulable"  # no node passes the filters


WAIT_REASONS = tuple(WaitReason)


# The same as Django choices (the OpenAPI schema names its enums from these).
TASK_STATUS_CHOICES = choices(TaskStatus)
NODE_STATUS_CHOICES = choices(NodeStatus)


class Dependency(StrEnum):
    """When a task's dependencies count as met (Slurm's names): every one SUCCEEDED (afterok), every
    one finished whatever its end (afterany), every one FAILED or CANCELLED (afternotok)."""

    AFTEROK = "afterok"
    AFTERANY = "afterany"
    AFTERNOTOK = "afternotok"


DEPENDENCIES = tuple(Dependency)
