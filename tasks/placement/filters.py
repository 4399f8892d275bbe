"""Feasibility filters: each takes the node table and a request, returns a mask of nodes that can
take it, and names its reason for the "why is my task pending" message. One "fits" filter per
resource of the vector (`nodes.resources`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nodes.resources import RESOURCES, Resource, named_reason
from tasks.placement.nodetable import NodeTable, TaskRequest


@dataclass(frozen=True)
class Filter:
    reason: str  # phrased for "N <reason>", as in Kubernetes' FailedScheduling message
    check: Callable[[NodeTable, TaskRequest], np.ndarray]


def node_online(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    return nodes.online


def node_not_draining(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    return ~nodes.draining


def labels_match(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    return nodes.selector_mask(request.node_selector)  # cached per selector, the empty one included


def fits(resource: Resource) -> Callable[[NodeTable, TaskRequest], np.ndarray]:
    """Nodes with at least the requested amount of `resource` free."""
    def check(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
        return nodes.free[resource.name] >= request.amount(resource)

    check.__name__ = f"{resource.name}_fits"
    return check


ONLINE = Filter("node(s) not ONLINE", node_online)
NOT_DRAINING = Filter("node(s) draining", node_not_draining)
SELECTOR = Filter("node(s) didn't match node selector", labels_match)
RESOURCE_FILTERS: dict[str, Filter] = {r.name: Filter(r.reason, fits(r)) for r in RESOURCES}
CPU, MEMORY, GPU = RESOURCE_FILTERS["cpu"], RESOURCE_FILTERS["memory"], RESOURCE_FILTERS["gpu"]
cpu_fits, mem_fits, gpu_fits = CPU.check, MEMORY.check, GPU.check


def named_fits(name: str) -> Callable[[NodeTable, TaskRequest], np.ndarray]:
    """Nodes with at least the requested amount of the named resource `name` free."""
    def check(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
        return nodes.named_free(name) >= request.resources.get(name, 0)

    check.__name__ = f"{name}_fits"
    return check


_named: dict[str, Filter] = {}


def named_filters(request: TaskRequest) -> tuple[Filter, ...]:
    """One filter per named resource the request asks for, after the vector's own."""
    return tuple(_named.get(name) or _named.setdefault(name, Filter(named_reason(name), named_fits(name)))
                 for name in sorted(request.resources))
