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
    *filters.RESOURCE_FILTERS.values(),  # one per resource of the vector
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
    """Pick the feasible node with the lowest score; ties go to the first name (the table is sorted).

    Which filter ruled out how many nodes is counted only when no node is left: that is the only
    time anyone reads it (the "why is my task pending" message), and placement is a hot loop.
    """
    masks = [step.check(nodes, request) for step in pipeline]
    feasible = np.logical_and.reduce(masks) if masks else np.ones(len(nodes), dtype=bool)
    candidates = np.flatnonzero(feasible)
    if not len(candidates):
        return Decision(index=None, rejected=_rejections(pipeline, masks, len(nodes)), total=len(nodes))
    scores = scorer(nodes, request)[candidates]
    return Decision(index=int(candidates[np.argmin(scores)]), total=len(nodes))


def feasible(nodes: NodeTable, index: int, request: TaskRequest, *,
             pipeline: Sequence[filters.Filter] = FILTERS) -> bool:
    """Whether the node at `index` passes every filter for `request` (the re-check under lock)."""
    return all(bool(step.check(nodes, request)[index]) for step in pipeline)


def _rejections(pipeline: Sequence[filters.Filter], masks: list[np.ndarray], total: int) -> dict[str, int]:
    """Nodes each filter ruled out, in pipeline order, counting a node under the first that dropped it."""
    rejected: dict[str, int] = {}
    still_in = np.ones(total, dtype=bool)
    for step, passed in zip(pipeline, masks, strict=True):
        ruled_out = int(np.count_nonzero(still_in & ~passed))
        if ruled_out:
            rejected[step.reason] = ruled_out
        still_in &= passed
    return rejected


def reasons(nodes: NodeTable, request: TaskRequest, *,
            pipeline: Sequence[filters.Filter] = FILTERS) -> list[str | None]:
    """For each node (table order), the reason of the first filter that rules it out, or None when
    it can take the task: the dry run's "why not this node" (the same words as `explain`)."""
    masks = [step.check(nodes, request) for step in pipeline]
    why: list[str | None] = [None] * len(nodes)
    for step, passed in zip(pipeline, masks, strict=True):
        for index in np.flatnonzero(~passed):
            if why[index] is None:
                why[index] = step.reason
    return why
