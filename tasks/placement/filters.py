"""Feasibility filters: each takes the node table and a request, returns a mask of nodes that can
take it, and names its reason for the "why is my task pending" message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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


def cpu_fits(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    return nodes.free_cpu >= request.cpu


def mem_fits(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    return nodes.free_mem >= request.mem


ONLINE = Filter("node(s) not ONLINE", node_online)
NOT_DRAINING = Filter("node(s) draining", node_not_draining)
SELECTOR = Filter("node(s) didn't match node selector", labels_match)
CPU = Filter("Insufficient cpu", cpu_fits)
MEMORY = Filter("Insufficient memory", mem_fits)
