"""Which devices (GPUs) of its node each attempt holds: counted like any resource of the vector
(`tasks.accounting`), and pinned here, so two live attempts never share a device.

At placement, under the node rows' locks (`tasks.placement.reservation`), the devices of a node
that no ASSIGNED or RUNNING task holds are handed out lowest index first; the attempt's indices
go on the task (`Task.gpu_devices`), its node's agent starts it with exactly those visible. A device
is held while its task is ASSIGNED or RUNNING: leaving those states frees it (the same transition
gives back the count), and a task back to PENDING forgets its devices (`tasks.states`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from nodes.models import Node
from scheduler_site.statuses import ACTIVE_STATUSES
from tasks.models import Task


def device_ids(node: Node) -> list[int]:
    """The device indices a node advertised, in order."""
    return sorted(int(device["index"]) for device in node.gpu_devices or [] if "index" in device)


def held_devices(node_ids: Iterable[int]) -> dict[int, list[int]]:
    """Node id -> the device indices its ASSIGNED and RUNNING tasks hold (one query)."""
    held: dict[int, list[int]] = defaultdict(list)
    rows = Task.objects.filter(node_id__in=list(node_ids), status__in=ACTIVE_STATUSES, gpu__gt=0)
    for node_id, devices in rows.values_list("node_id", "gpu_devices"):
        held[node_id].extend(devices or [])
    return held


def pick(nodes: Mapping[int, Node], by_node: Mapping[int, Sequence[Task]]) -> tuple[dict[int, list[int]], set[int]]:
    """Devices for the GPU tasks planned on locked `nodes`: (task id -> indices, ids of nodes whose
    free devices do not cover their share). The caller bounces the tasks of those nodes."""
    wanted = [node_id for node_id in nodes if any(task.gpu for task in by_node[node_id])]
    if not wanted:
        return {}, set()
    held = held_devices(wanted)
    picks: dict[int, list[int]] = {}
    short: set[int] = set()
    for node_id in wanted:
        taken = set(held.get(node_id, ()))
        free = [index for index in device_ids(nodes[node_id]) if index not in taken]
        share = [task for task in by_node[node_id] if task.gpu]
        if sum(task.gpu for task in share) > len(free):
            short.add(node_id)
            continue
        for task in share:
            picks[task.pk], free = free[:task.gpu], free[task.gpu:]
    return picks, short


def record(tasks: Iterable[Task], picks: Mapping[int, list[int]]) -> None:
    """Write each picked task's devices (one UPDATE per GPU task: there are at most as many as free
    GPUs in a batch)."""
    for task in tasks:
        devices = picks.get(task.pk)
        if devices is not None:
            task.gpu_devices = devices
            Task.objects.filter(pk=task.pk).update(gpu_devices=devices)


def device_violations() -> list[str]:
    """Devices held by two live attempts, or not as many as the task asks for (for the invariant)."""
    problems: list[str] = []
    holder: dict[tuple[int, int], int] = {}
    rows = Task.objects.filter(status__in=ACTIVE_STATUSES, gpu__gt=0)
    for task_id, node_id, gpu, devices in rows.values_list("pk", "node_id", "gpu", "gpu_devices").order_by("pk"):
        devices = devices or []
        if len(devices) != gpu or len(set(devices)) != gpu:
            problems.append(f"task {task_id}: asks for {gpu} GPU(s), holds devices {devices}")
        for index in devices:
            other = holder.setdefault((node_id, index), task_id)
            if other != task_id:
                problems.append(f"node {node_id}: device {index} held by tasks {other} and {task_id}")
    return problems
