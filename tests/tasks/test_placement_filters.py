"""Placement filters (`tasks.placement.filters`) and the "why is my task pending" message: pure,
on a NodeTable built from NodeViews, no database."""

from __future__ import annotations

import itertools

from tasks.placement import filters
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest
from tasks.placement.pipeline import FILTERS, choose

GIB = 1024
_ids = itertools.count(1)


def view(name: str, *, cpu: int = 4000, mem: int = 8 * GIB, used_cpu: int = 0, used_mem: int = 0,
         status: str = "ONLINE", draining: bool = False, labels: dict | None = None, node_id: int | None = None):
    return NodeView(id=node_id if node_id is not None else next(_ids), name=name, cpu_capacity=cpu,
                    mem_capacity=mem, cpu_allocated=used_cpu, mem_allocated=used_mem, status=status,
                    draining=draining, labels=labels or {})


def mask(check, nodes: NodeTable, request: TaskRequest) -> dict[str, bool]:
    """A filter's verdict per node name, easy to read in an assertion."""
    return dict(zip(nodes.names, (bool(x) for x in check(nodes, request)), strict=True))


def chosen(nodes: NodeTable, request: TaskRequest, **kwargs) -> str | None:
    decision = choose(nodes, request, **kwargs)
    return None if decision.index is None else nodes.names[decision.index]


ANY = TaskRequest(cpu=100, mem=64)


# -- each filter on its own ---------------------------------------------------------------------


def test_only_online_nodes_pass_the_status_filter():
    nodes = NodeTable([view("a-online"), view("b-unhealthy", status="UNHEALTHY"), view("c-offline", status="OFFLINE")])

    assert mask(filters.node_online, nodes, ANY) == {"a-online": True, "b-unhealthy": False, "c-offline": False}


def test_a_draining_node_does_not_pass_and_the_others_do():
    nodes = NodeTable([view("a"), view("b-cordoned", draining=True)])

    assert mask(filters.node_not_draining, nodes, ANY) == {"a": True, "b-cordoned": False}


def test_cpu_fits_counts_what_is_already_allocated_and_an_exact_fit_passes():
    nodes = NodeTable([view("exact", cpu=4000, used_cpu=2500), view("short", cpu=4000, used_cpu=2501),
                       view("empty", cpu=1000)])

    assert mask(filters.cpu_fits, nodes, TaskRequest(cpu=1500, mem=1)) == {"empty": False, "exact": True,
                                                                            "short": False}


def test_memory_fits_counts_what_is_already_allocated_and_an_exact_fit_passes():
    nodes = NodeTable([view("exact", mem=8192, used_mem=6144), view("short", mem=8192, used_mem=6145)])

    assert mask(filters.mem_fits, nodes, TaskRequest(cpu=1, mem=2048)) == {"exact": True, "short": False}


def test_a_node_selector_needs_every_label_with_the_same_value():
    nodes = NodeTable([
        view("all-match", labels={"zone": "a", "disk": "ssd", "extra": "fine"}),
        view("missing-label", labels={"zone": "a"}),
        view("wrong-value", labels={"zone": "a", "disk": "hdd"}),
        view("no-labels"),
    ])
    request = TaskRequest(cpu=1, mem=1, node_selector={"zone": "a", "disk": "ssd"})

    assert mask(filters.labels_match, nodes, request) == {
        "all-match": True, "missing-label": False, "wrong-value": False, "no-labels": False,
    }
    assert chosen(nodes, request) == "all-match"


def test_label_values_compare_exactly():
    nodes = NodeTable([view("upper", labels={"zone": "A"}), view("lower", labels={"zone": "a"})])

    assert mask(filters.labels_match, nodes, TaskRequest(cpu=1, mem=1, node_selector={"zone": "a"})) == {
        "lower": True, "upper": False,
    }


def test_an_empty_selector_matches_every_node():
    nodes = NodeTable([view("a", labels={"zone": "a"}), view("b")])

    assert mask(filters.labels_match, nodes, ANY) == {"a": True, "b": True}


def test_the_pipeline_runs_every_filter_in_kubernetes_order():
    assert [f.check for f in FILTERS] == [filters.node_online, filters.node_not_draining, filters.labels_match,
                                         filters.cpu_fits, filters.mem_fits, filters.gpu_fits]


# -- choose(): filters decide, and the decision says why ------------------------------------------


def test_choose_skips_a_draining_node_that_would_be_the_best_fit():
    nodes = NodeTable([view("a-tight", cpu=1000, mem=512, draining=True), view("b-roomy", cpu=8000, mem=16 * GIB)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=512)) == "b-roomy"


def test_choose_skips_nodes_that_are_not_online_even_when_they_fit_best():
    nodes = NodeTable([view("a-unhealthy", cpu=1000, mem=512, status="UNHEALTHY"),
                       view("b-offline", cpu=1000, mem=512, status="OFFLINE"), view("c-roomy", cpu=16000)])

    assert chosen(nodes, TaskRequest(cpu=1000, mem=512)) == "c-roomy"


def test_a_task_too_big_for_every_node_gets_no_node_and_a_counted_reason():
    nodes = NodeTable([view("a", cpu=2000, mem=4 * GIB), view("b", cpu=4000, mem=8 * GIB),
                       view("c", cpu=16000, mem=4 * GIB)])

    decision = choose(nodes, TaskRequest(cpu=8000, mem=6 * GIB))

    assert decision.index is None
    assert decision.explain() == "0/3 nodes are available: 2 Insufficient cpu, 1 Insufficient memory."


def test_each_node_is_counted_once_under_the_first_filter_that_drops_it():
    # Every node below is also too small; each must still be counted only under its first reason.
    nodes = NodeTable([
        view("a", cpu=500, status="OFFLINE"),
        view("b", cpu=500, draining=True, status="UNHEALTHY"),
        view("c", cpu=500, draining=True),
        view("d", cpu=500, labels={"zone": "b"}),
        view("e", cpu=500, labels={"zone": "a"}),
        view("f", cpu=4000, mem=256, labels={"zone": "a"}),
    ])

    decision = choose(nodes, TaskRequest(cpu=1000, mem=512, node_selector={"zone": "a"}))

    assert decision.index is None
    assert decision.rejected == {"node(s) not ONLINE": 2, "node(s) draining": 1,
                                 "node(s) didn't match node selector": 1, "Insufficient cpu": 1,
                                 "Insufficient memory": 1}
    assert decision.explain() == (
        "0/6 nodes are available: 2 node(s) not ONLINE, 1 node(s) draining, 1 node(s) didn't match node selector, "
        "1 Insufficient cpu, 1 Insufficient memory."
    )


def test_an_empty_cluster_explains_itself():
    decision = choose(NodeTable([]), ANY)

    assert decision.index is None
    assert decision.explain() == "0/0 nodes are available."


def test_the_filter_list_is_pluggable():
    nodes = NodeTable([view("a-cordoned", cpu=1000, draining=True), view("b", cpu=8000)])
    request = TaskRequest(cpu=1000, mem=512)

    assert chosen(nodes, request) == "b"
    assert chosen(nodes, request, pipeline=(filters.CPU, filters.MEMORY)) == "a-cordoned"


def test_a_placement_taken_in_the_table_is_seen_by_the_next_decision():
    nodes = NodeTable([view("a", cpu=2000), view("b", cpu=8000)])
    request = TaskRequest(cpu=1500, mem=256)

    first = choose(nodes, request)
    nodes.take(first.index, request)
    second = choose(nodes, request)
    nodes.take(second.index, request)

    assert (nodes.names[first.index], nodes.names[second.index]) == ("a", "b")
    assert nodes.free_cpu.tolist() == [500, 6500]
    rest = TaskRequest(cpu=6500, mem=256)
    third = choose(nodes, rest)
    nodes.take(third.index, rest)
    assert choose(nodes, request).explain() == "0/2 nodes are available: 2 Insufficient cpu."
    assert nodes.free_cpu.tolist() == [500, 0]
