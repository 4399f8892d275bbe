"""A column view of the cluster for placement: one numpy array per attribute, nodes sorted by name.

Placement evaluates every node for every task; columns make that a handful of vector operations
instead of a Python loop per node, which is what lets one process place thousands of tasks a
second on a thousand nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scheduler_site.statuses import NodeStatus

ONLINE = NodeStatus.ONLINE


@dataclass(frozen=True)
class NodeView:
    id: int
    name: str
    cpu_capacity: int
    mem_capacity: int
    cpu_allocated: int = 0
    mem_allocated: int = 0
    status: str = ONLINE
    draining: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskRequest:
    cpu: int  # millicores
    mem: int  # MiB
    node_selector: Mapping[str, str] = field(default_factory=dict)


class NodeTable:
    def __init__(self, nodes: Sequence[NodeView]) -> None:
        ordered = sorted(nodes, key=lambda n: n.name)
        self.ids = np.array([n.id for n in ordered], dtype=np.int64)
        self.names = [n.name for n in ordered]
        self.cap_cpu = np.array([n.cpu_capacity for n in ordered], dtype=np.int64)
        self.cap_mem = np.array([n.mem_capacity for n in ordered], dtype=np.int64)
        self.free_cpu = self.cap_cpu - np.array([n.cpu_allocated for n in ordered], dtype=np.int64)
        self.free_mem = self.cap_mem - np.array([n.mem_allocated for n in ordered], dtype=np.int64)
        self.online = np.array([n.status == ONLINE for n in ordered], dtype=bool)
        self.draining = np.array([n.draining for n in ordered], dtype=bool)
        self.labels = [dict(n.labels) for n in ordered]
        # Capacities as floats once, for the normalised scores (guarding a zero capacity).
        self.cap_cpu_f = np.maximum(self.cap_cpu, 1).astype(np.float64)
        self.cap_mem_f = np.maximum(self.cap_mem, 1).astype(np.float64)
        self._selector_masks: dict[frozenset, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.names)

    def selector_mask(self, selector: Mapping[str, str]) -> np.ndarray:
        """Nodes whose labels include every key=value of `selector` (cached per selector)."""
        key = frozenset(selector.items())
        mask = self._selector_masks.get(key)
        if mask is None:
            mask = np.array(
                [all(labels.get(k) == v for k, v in selector.items()) for labels in self.labels], dtype=bool
            )
            self._selector_masks[key] = mask
        return mask

    def take(self, index: int, request: TaskRequest) -> None:
        """Account a placement in the snapshot so the next decision sees it."""
        self.free_cpu[index] -= request.cpu
        self.free_mem[index] -= request.mem
