"""Tasks, their history (one event per transition) and their output (log chunks).

`Task.status` is written only by `tasks.states`. CPU is stored in millicores and memory in MiB,
so resource accounting is integer arithmetic.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from scheduler_site.statuses import ACTIVE_STATUSES, TERMINAL_STATUSES, Dependency, TaskStatus, choices

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "Dependency", "LogChunk", "LogStream", "Task", "TaskArray",
           "TaskEvent", "TaskStatus"]


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
    # -- GPUs (issue 19): the request is the resource vector's `gpu` entry; the devices are the
    # indices on its node the current (or last) attempt holds, chosen by `tasks.devices` at placement.
    gpu = models.PositiveIntegerField(default=0, help_text="whole GPUs")
    gpu_devices = models.JSONField(default=list, blank=True, editable=False,
                                   help_text="device indices on its node held by the current (or last) attempt")
    resources = models.JSONField(default=dict, blank=True, help_text="named countable resources: name -> count")
    # -- end GPUs

    # --- batch workloads (issue 16): retries, dependencies, arrays; rules in tasks/batch/ ---
    retries = models.PositiveIntegerField(default=0, help_text="extra attempts after the command itself fails")
    retry_backoff = models.FloatField(default=10, help_text="seconds before the first retry; doubles each retry")
    retry_backoff_max = models.FloatField(default=600, help_text="seconds: the longest wait before a retry")
    retry_on_exit_codes = models.JSONField(null=True, blank=True, help_text="only these exit codes retry")
    retries_used = models.PositiveIntegerField(default=0, editable=False)
    lost_attempts = models.PositiveIntegerField(default=0, editable=False,
                                                help_text="attempts lost to infrastructure (max_attempts bounds them)")
    not_before = models.DateTimeField(null=True, blank=True, editable=False, help_text="next retry not before")
    depends_on = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)
    dependency = models.CharField(max_length=10, choices=choices(Dependency), default=Dependency.AFTEROK)
    array = models.ForeignKey("TaskArray", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks",
                              editable=False)
    array_index = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # --- end batch workloads ---

    # -- many users (issue 17) --
    attempts_uncharged = models.PositiveIntegerField(
        default=0, editable=False, help_text="attempts that counted against nothing (preempted)")

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
            # batch: an array's elements by status (throttle, counts), its list in index order
            models.Index(fields=["array", "status"], name="task_array_status"),
            models.Index(fields=["array", "array_index"], name="task_array_index"),
            # batch: when the next retry comes due (the placement loop wakes then)
            models.Index(fields=["not_before"], name="task_pending_not_before",
                         condition=Q(status=TaskStatus.PENDING, not_before__isnull=False)),
        ]
        # -- many users (issue 17): operators' permissions, asked only through tasks.access --
        permissions = [
            ("view_any_task", "Can see every task's env and output (operator)"),
            ("cancel_any_task", "Can cancel, rerun and requeue every user's tasks (operator)"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.name or self.command[:40]})"


class TaskArray(models.Model):
    """A Slurm-style array: one submission, one task per index (`Task.array`, `Task.array_index`)."""

    spec = models.CharField(max_length=200, help_text="as submitted, e.g. 0-999%20")
    size = models.PositiveIntegerField()
    throttle = models.PositiveIntegerField(null=True, blank=True, help_text="at most this many ASSIGNED or RUNNING")
    name = models.CharField(max_length=200, blank=True)
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="task_arrays"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"array {self.pk} ({self.spec})"


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


# -- many users (issue 17): quotas and fair-share usage ------------------------------------------


class Quota(models.Model):
    """Limits on what one user, or one group's members together, may use at once (`tasks.quotas`).

    `limits` maps a resource of the vector (its request field: "cpu", "mem", "gpu"...) to the most
    its tasks may hold at once, in the API's unit (cores, MiB): a new resource needs no column.
    An empty value means no limit."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="quota")
    group = models.OneToOneField("auth.Group", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="quota")
    limits = models.JSONField(default=dict, blank=True,
                              help_text="resource -> the most in use at once, in the API's unit (cpu in cores)")
    max_running = models.PositiveIntegerField(null=True, blank=True, help_text="tasks ASSIGNED or RUNNING at once")
    max_pending = models.PositiveIntegerField(null=True, blank=True, help_text="tasks PENDING at once")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="quota_user_xor_group",
            ),
        ]

    def __str__(self) -> str:
        return f"quota of {self.holder}"

    @property
    def holder(self) -> str:
        return self.user.get_username() if self.user_id else f"group {self.group.name}"


class OwnerUsage(models.Model):
    """An owner's recent usage for fair share (`tasks.fairshare`): CPU-seconds, decayed with a
    half-life; charged when an attempt ends, decayed by the sweeper."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage")
    cpu_seconds = models.FloatField(default=0.0)
    decayed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id}: {self.cpu_seconds:.0f} cpu-s"
