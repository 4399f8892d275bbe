"""Scorers: lower is better. Each resource's leftover is divided by the node's capacity of it,
so cores and MiB weigh the same (the raw sum would let MiB drown cores); every resource of the
vector (`nodes.resources`) that the node has counts equally (a node without GPUs is scored on CPU
and memory alone, not handed a free "0 of 0 GPUs left").

Scarce resources (GPUs): a task that asks for none of one is kept off nodes that have some of it
free, whatever the fit: `idle_scarce_penalty` adds SCARCE_PENALTY per such resource, more than any
leftover can weigh, so a CPU-only task goes to a GPU node only when no node without free GPUs can
take it, and the GPU boxes stay free for GPU work.
"""

from __future__ import annotations

import numpy as np

from nodes.resources import RESOURCES
from tasks.placement.nodetable import NodeTable, TaskRequest

SCARCE_PENALTY = 2.0  # leftovers are within [-1, 1]: a penalty of 2 outweighs any of them
_SCARCE = tuple(r for r in RESOURCES if r.scarce)


def normalized_leftover(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Mean fraction of each node's capacity left free after placing `request` there, over the
    resources the node has."""
    total = sum((nodes.free[r.name] - request.amount(r)) / nodes.capacity_f[r.name] for r in RESOURCES)
    for name in nodes.named:  # named resources: further dimensions of the same mean
        total = total + (nodes.free[name] - request.resources.get(name, 0)) / nodes.capacity_f[name]
    return total / nodes.dimensions


def idle_scarce_penalty(nodes: NodeTable, request: TaskRequest) -> np.ndarray | float:
    """SCARCE_PENALTY for each scarce resource the task does not ask for and the node has free."""
    penalty: np.ndarray | float = 0.0
    for resource in _SCARCE:
        if request.amount(resource) == 0:
            penalty = penalty + SCARCE_PENALTY * (nodes.free[resource.name] > 0)
    return penalty


def best_fit(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Bin packing: the node left with the least free capacity wins."""
    return normalized_leftover(nodes, request) + idle_scarce_penalty(nodes, request)


def worst_fit(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Spread: the node left with the most free capacity wins."""
    return -normalized_leftover(nodes, request) + idle_scarce_penalty(nodes, request)
