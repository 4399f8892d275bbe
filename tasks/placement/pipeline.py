"""Filter, then score: the one place that lists the filters and the scorers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tasks.placement import filters, scorers
from tasks.placement.nodetable import NodeTable, TaskRequest

Scorer = Callable[[NodeTable, TaskRequest], np.ndarray]

FILTERS: tuple[filters.Filter, ...] = (
    filters.ONLINE,
    filters.NOT_DRAINING,
    filters.SELECTOR,
    filters.CPU,
    filters.MEMORY,
)
SCORERS: dict[str, Scorer] = {"best_fit": scorers.best_fit, "worst_fit": scorers.worst_fit}


@dataclass
class Decision:
    index: int | None  # row in the node table, or None when no node can take the task
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> nodes it ruled out
    total: int = 0

    def explain(self) -> str:
        """Kubernetes-style: '0/3 nodes are available: 2 Insufficient cpu, 1 node(s) draining.'"""
        parts = ", ".join(f"{count} {reason}" for reason, count in self.rejected.items() if count)
        return f"0/{self.total} nodes are available" + (f": {parts}." if parts else ".")


def choose(
    nodes: NodeTable,
    request: TaskRequest,
    *,
    scorer: Scorer = scorers.best_fit,
    pipeline: Sequence[filters.Filter] = FILTERS,
) -> Decision:
    """Pick the feasible node with the lowest score; ties go to the first name (the table is sorted)."""
    feasible = np.ones(len(nodes), dtype=bool)
    rejected: dict[str, int] = {}
    for step in pipeline:
        passed = step.check(nodes, request)
        ruled_out = int(np.count_nonzero(feasible & ~passed))
        if ruled_out:
            rejected[step.reason] = ruled_out
        feasible &= passed
    if not feasible.any():
        return Decision(index=None, rejected=rejected, total=len(nodes))
    scores = np.where(feasible, scorer(nodes, request), np.inf)
    return Decision(index=int(np.argmin(scores)), rejected=rejected, total=len(nodes))
