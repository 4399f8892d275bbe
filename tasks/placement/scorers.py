"""Scorers: lower is better. Each resource's leftover is divided by the node's capacity of it,
so cores and MiB weigh the same (the raw sum would let MiB drown cores).
"""

from __future__ import annotations

import numpy as np

from tasks.placement.nodetable import NodeTable, TaskRequest


def normalized_leftover(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Mean fraction of each node's capacity left free after placing `request` there."""
    cpu_left = (nodes.free_cpu - request.cpu) / nodes.cap_cpu_f
    mem_left = (nodes.free_mem - request.mem) / nodes.cap_mem_f
    return (cpu_left + mem_left) / 2


def best_fit(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Bin packing: the node left with the least free capacity wins."""
    return normalized_leftover(nodes, request)


def worst_fit(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """Spread: the node left with the most free capacity wins."""
    return -normalized_leftover(nodes, request)
