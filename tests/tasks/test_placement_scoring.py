"""Placement scorers (`tasks.placement.scorers`): Best Fit on the normalized leftover, ties by node
name, Worst Fit spreading, and the scorer chosen by a setting. Pure: NodeTables, no database."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.placement import scorers
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest
from tasks.placement.pipeline import SCORERS, choose


def view(name: str, node_id: int, *, cpu: int, mem: int, used_cpu: int = 0, used_mem: int = 0) -> NodeView:
    return NodeView(id=node_id, name=name, cpu_capacity=cpu, mem_capacity=mem, cpu_allocated=used_cpu,
                    mem_allocated=used_mem)


def raw_sum(nodes: NodeTable, request: TaskRequest) -> np.ndarray:
    """The seed's score, `free_cpu - cpu + free_mem - mem`: millicores and MiB added as if alike."""
    return (nodes.free_cpu - request.cpu + nodes.free_mem - request.mem).astype(np.float64)


def chosen(nodes: NodeTable, request: TaskRequest, **kwargs) -> str | None:
    decision = choose(nodes, request, **kwargs)
    return None if decision.index is None else nodes.names[decision.index]


def test_best_fit_score_is_the_mean_fraction_of_capacity_left_after_placement():
    nodes = NodeTable([view("a", 1, cpu=4000, mem=8192), view("b", 2, cpu=8000, mem=8192, used_cpu=2000,
                                                              used_mem=4096)])

    scores = scorers.best_fit(nodes, TaskRequest(cpu=1000, mem=2048))

    # a: (3000/4000 + 6144/8192) / 2;  b: (5000/8000 + 2048/8192) / 2
    assert scores.tolist() == pytest.approx([0.75, (0.625 + 0.25) / 2])


def test_best_fit_prefers_the_node_left_with_the_least_free_capacity():
    nodes = NodeTable([view("a-big", 1, cpu=16000, mem=65536), view("b-medium", 2, cpu=4000, mem=8192),
                       view("c-small", 3, cpu=2000, mem=4096)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=1024)) == "c-small"
    assert chosen(nodes, TaskRequest(cpu=3000, mem=1024)) == "b-medium"  # c-small is too small now


def test_normalized_best_fit_and_the_raw_sum_pick_different_nodes():
    # a-idle: an empty box with 16 cores and little memory. b-busy: half its cores and memory in use.
    nodes = NodeTable([
        view("a-idle", 1, cpu=16000, mem=4096),
        view("b-busy", 2, cpu=4000, mem=65536, used_cpu=2000, used_mem=32768),
    ])
    request = TaskRequest(cpu=1000, mem=1024)

    # Raw leftover: a 15000 + 3072, b 1000 + 31744. The MiB decide, and the idle node "fits best".
    assert raw_sum(nodes, request).tolist() == [18072, 32744]
    assert chosen(nodes, request, scorer=raw_sum) == "a-idle"
    # Normalized: a keeps (15/16 + 3/4) / 2 = 84% of itself free, b (1/4 + 31/64) / 2 = 37%: b is the
    # tighter fit, and the one Best Fit picks (not by name: a-idle sorts first).
    assert scorers.best_fit(nodes, request).tolist() == pytest.approx([0.84375, (0.25 + 31744 / 65536) / 2])
    assert chosen(nodes, request) == "b-busy"


def test_equal_scores_go_to_the_first_node_by_name_not_by_id_or_input_order():
    nodes = NodeTable([view("node-c", 1, cpu=4000, mem=8192), view("node-a", 3, cpu=4000, mem=8192),
                       view("node-b", 2, cpu=4000, mem=8192)])

    assert nodes.names == ["node-a", "node-b", "node-c"]
    assert chosen(nodes, TaskRequest(cpu=1000, mem=1024)) == "node-a"
    assert chosen(nodes, TaskRequest(cpu=1000, mem=1024), scorer=scorers.worst_fit) == "node-a"


def test_a_tie_between_nodes_of_different_sizes_also_goes_by_name():
    # zeta: 2 cores, 4 GiB, empty. alpha: 4 cores, 8 GiB, a quarter used. Both end at exactly half free.
    nodes = NodeTable([view("zeta", 1, cpu=2000, mem=4096),
                       view("alpha", 2, cpu=4000, mem=8192, used_cpu=1000, used_mem=2048)])
    request = TaskRequest(cpu=1000, mem=2048)

    assert scorers.best_fit(nodes, request).tolist() == [0.5, 0.5]
    assert chosen(nodes, request) == "alpha"


def test_best_fit_packs_and_worst_fit_spreads():
    def place_three(scorer) -> list[str]:
        nodes = NodeTable([view(f"node-{i}", i, cpu=4000, mem=8192) for i in (1, 2, 3)])
        request = TaskRequest(cpu=1000, mem=1024)
        names = []
        for _ in range(3):
            decision = choose(nodes, request, scorer=scorer)
            nodes.take(decision.index, request)
            names.append(nodes.names[decision.index])
        return names

    assert place_three(scorers.best_fit) == ["node-1", "node-1", "node-1"]
    assert place_three(scorers.worst_fit) == ["node-1", "node-2", "node-3"]


def test_worst_fit_prefers_the_node_left_with_the_most_free_capacity():
    nodes = NodeTable([view("a-small", 1, cpu=2000, mem=4096), view("b-big", 2, cpu=16000, mem=65536),
                       view("c-big-but-busy", 3, cpu=16000, mem=65536, used_cpu=12000, used_mem=49152)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=1024), scorer=scorers.worst_fit) == "b-big"
    # Best Fit takes the busy big node: a fifth of it stays free, against 62% of the small one.
    assert chosen(nodes, TaskRequest(cpu=1000, mem=1024), scorer=scorers.best_fit) == "c-big-but-busy"


def test_a_scorer_only_ranks_nodes_the_filters_kept():
    nodes = NodeTable([view("a-tight-but-full", 1, cpu=2000, mem=4096, used_cpu=1500),
                       view("b-roomy", 2, cpu=16000, mem=65536)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=1024)) == "b-roomy"


def test_every_scorer_the_setting_can_name_is_registered():
    # SCHEDULER_SCORER accepts best_fit and worst_fit (settings.py); reservation looks it up here.
    # That placement follows the setting is pinned down in test_placement_reservation.py.
    assert {"best_fit": scorers.best_fit, "worst_fit": scorers.worst_fit} == SCORERS
