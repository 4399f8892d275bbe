"""One row per time bucket for the cluster (`ClusterSample`) and per node and bucket
(`NodeSample`), at three resolutions (`step`, seconds; see `tiers.TIERS`). A row for bucket `t`
covers [t, t + step): counts are of what happened in it, gauges were read as it closed (a rolled-up
row averages the finer rows it covers). Integers only: CPU in millicores, memory in MiB, times in ms.
(step, bucket) is unique, so several sweepers recording the same bucket write one row.
"""

from __future__ import annotations

from django.db import models


class ClusterSample(models.Model):
    step = models.PositiveIntegerField(help_text="seconds this row covers")
    bucket = models.DateTimeField(help_text="start of the interval")
    nodes_online = models.PositiveIntegerField(default=0)
    cpu_capacity = models.BigIntegerField(default=0, help_text="millicores of nodes not OFFLINE")
    cpu_allocated = models.BigIntegerField(default=0)
    cpu_used = models.BigIntegerField(default=0, help_text="millicores busy, from the agents' usage")
    mem_capacity = models.BigIntegerField(default=0, help_text="MiB")
    mem_allocated = models.BigIntegerField(default=0)
    mem_used = models.BigIntegerField(default=0)
    queue_depth = models.PositiveIntegerField(default=0, help_text="PENDING tasks")
    started = models.PositiveIntegerField(default=0, help_text="tasks that started RUNNING in the interval")
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    placements = models.PositiveIntegerField(default=0, help_text="tasks placed in the interval")
    placement_ms_sum = models.BigIntegerField(default=0, help_text="sum of their queue-to-placement times")
    placement_ms_max = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["step", "bucket"]
        constraints = [models.UniqueConstraint(fields=["step", "bucket"], name="clustersample_step_bucket")]

    def __str__(self) -> str:
        return f"cluster {self.step}s @ {self.bucket:%Y-%m-%d %H:%M:%S}"


class NodeSample(models.Model):
    step = models.PositiveIntegerField()
    bucket = models.DateTimeField()
    node = models.ForeignKey("nodes.Node", on_delete=models.CASCADE, related_name="+")
    cpu_capacity = models.PositiveIntegerField(default=0)
    cpu_allocated = models.PositiveIntegerField(default=0)
    cpu_used = models.PositiveIntegerField(default=0)
    mem_capacity = models.PositiveIntegerField(default=0)
    mem_allocated = models.PositiveIntegerField(default=0)
    mem_used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["step", "node", "bucket"]
        constraints = [
            models.UniqueConstraint(fields=["step", "node", "bucket"], name="nodesample_step_node_bucket"),
        ]
        indexes = [models.Index(fields=["step", "bucket"], name="nodesample_step_bucket")]

    def __str__(self) -> str:
        return f"node {self.node_id} {self.step}s @ {self.bucket:%Y-%m-%d %H:%M:%S}"
