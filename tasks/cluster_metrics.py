"""Tasks and nodes by status, and the queue depth, read from the database at scrape time, so any
one master reports the whole cluster (registered with `scheduler_site.metrics` by `tasks.apps`)."""

from __future__ import annotations

from django.db.models import Count, Sum
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from nodes.models import Node
from nodes.resources import RESOURCES
from scheduler_site.statuses import NODE_STATUSES, TASK_STATUSES, TaskStatus
from tasks.models import Task


class ClusterCollector(Collector):
    def collect(self):
        tasks = GaugeMetricFamily("scheduler_tasks", "Tasks by status.", labels=["status"])
        counts = dict(Task.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        for status in TASK_STATUSES:
            tasks.add_metric([status], counts.get(status, 0))
        yield tasks
        yield GaugeMetricFamily("scheduler_queue_depth", "PENDING tasks.", value=counts.get(TaskStatus.PENDING, 0))
        nodes = GaugeMetricFamily("scheduler_nodes", "Nodes by status.", labels=["status"])
        by_status = dict(Node.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        for status in NODE_STATUSES:
            nodes.add_metric([status], by_status.get(status, 0))
        yield nodes
        yield GaugeMetricFamily("scheduler_nodes_draining", "Nodes draining.",
                                value=Node.objects.filter(draining=True).count())
        yield from _resources()


def _resources():
    """Capacity and allocation of every resource of the vector (cpu in millicores, memory in MiB,
    gpu in devices), summed over the registered nodes."""
    sums = Node.objects.aggregate(**{f"c{i}": Sum(r.capacity_field) for i, r in enumerate(RESOURCES)},
                                  **{f"a{i}": Sum(r.allocated_field) for i, r in enumerate(RESOURCES)})
    capacity = GaugeMetricFamily("scheduler_resource_capacity", "Capacity of the nodes, per resource, in its "
                                 "stored unit (cpu: millicores, memory: MiB, gpu: devices).", labels=["resource"])
    allocated = GaugeMetricFamily("scheduler_resource_allocated", "Held by ASSIGNED and RUNNING tasks, per "
                                  "resource, in its stored unit.", labels=["resource"])
    for i, resource in enumerate(RESOURCES):
        capacity.add_metric([resource.name], sums[f"c{i}"] or 0)
        allocated.add_metric([resource.name], sums[f"a{i}"] or 0)
    yield capacity
    yield allocated
