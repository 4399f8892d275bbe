"""A column view of the cluster for placement: one numpy array per attribute, nodes sorted by name.

Placement evaluates every node for every task; columns make that a handful of vector operations
instead of a Python loop per node, which is what lets one process place thousands of tasks a
second on a thousand nodes. Capacities and free amounts are kept per resource of the vector
(`nodes.resources.RESOURCES`), by resource name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nodes.resources import RESOURCES, Resource
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
    gpu_capacity: int = 0
    gpu_allocated: int = 0
    resources: Mapping[str, int] = field(default_factory=dict)  # named resources: capacity
    resources_allocated: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The columns to read a node's view from, in constructor order."""
        return tuple(cls.__dataclass_fields__)


@dataclass(frozen=True)
class TaskRequest:
    cpu: int  # millicores
    mem: int  # MiB
    node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu: int = 0  # whole GPUs
    resources: Mapping[str, int] = field(default_factory=dict)  # named resources it asks for

    def amount(self, resource: Resource) -> int:
        return getattr(self, resource.request_field)

    def shape(self) -> tuple:
        """Requests of one shape fit the same nodes."""
        return (*(self.amount(r) for r in RESOURCES), frozenset(self.node_selector.items()),
                frozenset(self.resources.items()))


class NodeTable:
    def __init__(self, nodes: Sequence[NodeView]) -> None:
        ordered = sorted(nodes, key=lambda n: n.name)
        self.ids = np.array([n.id for n in ordered], dtype=np.int64)
        self.names = [n.name for n in ordered]
        self.capacity: dict[str, np.ndarray] = {}
        self.free: dict[str, np.ndarray] = {}
        self.capacity_f: dict[str, np.ndarray] = {}  # as floats once, for the normalised scores (no zero)
        for resource in RESOURCES:
            capacity = np.array([getattr(n, resource.capacity_field) for n in ordered], dtype=np.int64)
            allocated = np.array([getattr(n, resource.allocated_field) for n in ordered], dtype=np.int64)
            self.capacity[resource.name] = capacity
            self.free[resource.name] = capacity - allocated
            self.capacity_f[resource.name] = np.maximum(capacity, 1).astype(np.float64)
        # Named resources: one more dimension each, under their own name (never one of RESOURCES').
        self.named = sorted({name for n in ordered for name in n.resources})
        for name in self.named:
            capacity = np.array([n.resources.get(name, 0) for n in ordered], dtype=np.int64)
            allocated = np.array([n.resources_allocated.get(name, 0) for n in ordered], dtype=np.int64)
            self.capacity[name], self.free[name] = capacity, capacity - allocated
            self.capacity_f[name] = np.maximum(capacity, 1).astype(np.float64)
        # How many resources each node has (capacity > 0): the normalised score's denominator.
        self.dimensions = np.maximum(sum((capacity > 0).astype(np.float64) for capacity in self.capacity.values()),
                                     1.0)
        self.online = np.array([n.status == ONLINE for n in ordered], dtype=bool)
        self.draining = np.array([n.draining for n in ordered], dtype=bool)
        self.labels = [dict(n.labels) for n in ordered]
        self._selector_masks: dict[frozenset, np.ndarray] = {}

    # The first two resources by their familiar names (the same arrays).
    @property
    def free_cpu(self) -> np.ndarray:
        return self.free["cpu"]

    @property
    def free_mem(self) -> np.ndarray:
        return self.free["memory"]

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

    def named_free(self, name: str) -> np.ndarray:
        """Free amounts of a named resource (zeros where no node has it)."""
        free = self.free.get(name) if name in self.named else None
        return free if free is not None else np.zeros(len(self.names), dtype=np.int64)

    def take(self, index: int, request: TaskRequest) -> None:
        """Account a placement in the snapshot so the next decision sees it."""
        for resource in RESOURCES:
            self.free[resource.name][index] -= request.amount(resource)
        for name, amount in request.resources.items():
            if name in self.named:
                self.free[name][index] -= amount
