"""Tasks, their history (one event per transition) and their output (log chunks).

`Task.status` is written only by `tasks.states`. CPU is stored in millicores and memory in MiB,
so resource accounting is integer arithmetic.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from scheduler_site.statuses import ACTIVE_STATUSES, TERMINAL_STATUSES, TaskStatus, choices

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "LogChunk", "LogStream", "Task", "TaskEvent", "TaskStatus"]


class Task(models.Model):
    name = models.CharField(max_length=200, blank=True)
    command = models.TextField()
    cpu = models.PositiveIntegerField(help_text="millicores")
    mem = models.PositiveIntegerField(help_text="MiB")
    priority = models.IntegerField(default=0)
    status = models.CharField(max_length=10, choices=choices(TaskStatus), default=TaskStatus.PENDING, editable=False)
    status_reason = models.CharField(max_length=64, blank=True, editable=False)
    status_message = models.TextField(blank=True, editable=False)
    node = models.ForeignKey(
        "nodes.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks", editable=False
    )
    node_name = models.CharField(max_length=253, blank=True, editable=False)
    attempt = models.PositiveIntegerField(default=0, editable=False)
    max_attempts = models.PositiveIntegerField(default=3)
    timeout = models.FloatField(null=True, blank=True, help_text="seconds; empty means no limit")
    env = models.JSONField(default=dict, blank=True)
    node_selector = models.JSONField(default=dict, blank=True)
    exit_code = models.IntegerField(null=True, blank=True, editable=False)
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns", editable=False,
        help_text="the task this one reruns (same spec)",
    )
    log_bytes = models.BigIntegerField(default=0, editable=False)
    log_bytes_dropped = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The placement queue: pending tasks, highest priority first, then oldest.
            models.Index(
                fields=["-priority", "id"], name="task_pending_queue", condition=Q(status=TaskStatus.PENDING)
            ),
            models.Index(fields=["node", "status"], name="task_node_status"),
            models.Index(fields=["status", "-id"], name="task_status_recent"),
            # the task list's filters, newest first, one page after another (keyset on id)
            models.Index(fields=["node_name", "-id"], name="task_node_name_recent"),
            models.Index(fields=["submitter", "-id"], name="task_submitter_recent"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.name or self.command[:40]})"


class TaskEvent(models.Model):
    """One row per transition (and per change of the reason a task is pending)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    attempt = models.PositiveIntegerField()
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    node = models.ForeignKey("nodes.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    node_name = models.CharField(max_length=253, blank=True)
    reason = models.CharField(max_length=64)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        # the history recorder counts the transitions of each 10 s bucket
        indexes = [models.Index(fields=["created_at"], name="taskevent_created")]

    def __str__(self) -> str:
        return f"{self.task_id}: {self.from_status}->{self.to_status} ({self.reason})"


class LogStream(models.IntegerChoices):
    STDOUT = 1, "stdout"
    STDERR = 2, "stderr"


class LogChunk(models.Model):
    """A slice of one attempt's output, numbered by the agent; (task, attempt, seq) is unique.

    `data` holds the exact bytes; `line`/`lines` number the lines that start in it (docs/logs.md)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="log_chunks")
    attempt = models.PositiveIntegerField()
    seq = models.PositiveIntegerField()
    stream = models.PositiveSmallIntegerField(choices=LogStream.choices)
    data = models.BinaryField(default=b"")
    ts = models.FloatField(help_text="when the agent read it (unix time)")
    line = models.BigIntegerField(default=0, help_text="0-based number of the first line that starts here")
    lines = models.PositiveIntegerField(default=0, help_text="how many lines start here")
    cont = models.BooleanField(default=False, help_text="continues the last line of this stream's previous chunk")
    gap = models.PositiveIntegerField(default=0, help_text="bytes the agent could not deliver in this place")

    class Meta:
        ordering = ["task", "attempt", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["task", "attempt", "seq"], name="logchunk_task_attempt_seq"),
        ]
        indexes = [models.Index(fields=["task", "attempt", "line"], name="logchunk_task_attempt_line")]

    def __str__(self) -> str:
        return f"{self.task_id}/{self.attempt}#{self.seq}"
