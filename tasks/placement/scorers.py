"""Scorers: lower is better. Each resource's leftover is divided by the node's capacity of it,
so cores and MiB weigh the same (the raw sum would let MiB drown cores); every resource of the
vector (`nodes.resources`) counts equally.
"""

from __future__ import annotations

import numpy as np

from nodes.resources import RESOURCES
from tasks.placement.nodetable import NodeTable, TaskRequest


def normalized_leftover(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Mean fraction of each node's capacity left free after placing `request` there."""
    total = sum((nodes.free[r.name] - request.amount(r)) / nodes.capacity_f[r.name] for r in RESOURCES)
    return total / len(RESOURCES)


def best_fit(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Bin packing: the node left with the least free capacity wins."""
    return normalized_leftover(nodes, request)


def worst_fit(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Spread: the node left with the most free capacity wins."""
    return -normalized_leftover(nodes, request)
