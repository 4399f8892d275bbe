"""Worker nodes: identity, capacity and reservations (integers), live usage, health, and history.

`status` is written only by `nodes.health`; the `*_allocated` columns and `generation` only by
`tasks.accounting`, in the same transaction as the task transitions that cause them.
"""

from __future__ import annotations

from functools import reduce
from operator import and_

from django.db import models
from django.db.models import Q

from nodes.resources import RESOURCES
from scheduler_site.statuses import NodeStatus, choices

__all__ = ["Node", "NodeEvent", "NodeStatus"]


class Node(models.Model):
    name = models.CharField(max_length=253, unique=True)
    labels = models.JSONField(default=dict, blank=True)
    cpu_capacity = models.PositiveIntegerField(help_text="millicores")
    mem_capacity = models.PositiveIntegerField(help_text="MiB")
    cpu_allocated = models.PositiveIntegerField(default=0, help_text="millicores held by ASSIGNED and RUNNING tasks")
    mem_allocated = models.PositiveIntegerField(default=0, help_text="MiB reserved by ASSIGNED and RUNNING tasks")
    # -- GPUs (issue 19): the count is the resource vector's `gpu` entry; the devices are which ones
    gpu_capacity = models.PositiveIntegerField(default=0, help_text="GPUs the agent advertised")
    gpu_allocated = models.PositiveIntegerField(default=0, help_text="GPUs held by ASSIGNED and RUNNING tasks")
    gpu_devices = models.JSONField(default=list, blank=True,
                                   help_text="[{index, uuid, model, memory}] as the agent detected or declared them")
    # named countable resources (`nodes.resources`, "Named countable resources"): name -> count
    resources = models.JSONField(default=dict, blank=True, help_text="named resources the agent advertised")
    resources_allocated = models.JSONField(default=dict, blank=True,
                                           help_text="named resources held by ASSIGNED and RUNNING tasks")
    # -- end GPUs
    cpu_usage = models.FloatField(null=True, blank=True, help_text="percent, as last reported by the agent")
    mem_usage = models.FloatField(null=True, blank=True, help_text="percent, as last reported by the agent")
    gpu_usage = models.JSONField(null=True, blank=True,
                                 help_text="[{index, util (%), mem_used, mem_total (MiB)}] as last reported; null: "
                                           "the agent has no nvidia-smi")
    status = models.CharField(max_length=10, choices=choices(NodeStatus), default=NodeStatus.ONLINE, db_index=True)
    draining = models.BooleanField(default=False)
    last_heartbeat = models.DateTimeField()
    token_digest = models.CharField(max_length=64, editable=False)
    # Bumped whenever the node's set of desired assignments changes, so an agent can tell a newer
    # answer from an older one that arrives late.
    generation = models.BigIntegerField(default=0)
    agent_info = models.JSONField(default=dict, blank=True)
    registered_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=reduce(and_, (Q(**{f"{r.allocated_field}__lte": models.F(r.capacity_field)})
                                        for r in RESOURCES)),
                name="node_allocated_within_capacity",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def free(self, resource) -> int:
        """What is left of `resource` (a `nodes.resources.Resource`) for new placements."""
        return getattr(self, resource.capacity_field) - getattr(self, resource.allocated_field)

    @property
    def cpu_free(self) -> int:
        return self.cpu_capacity - self.cpu_allocated

    @property
    def mem_free(self) -> int:
        return self.mem_capacity - self.mem_allocated


class NodeEvent(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, blank=True)
    reason = models.CharField(max_length=64)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.node_id}: {self.reason}"
