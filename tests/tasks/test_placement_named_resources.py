"""Named countable resources (issue 19: licences, FPGA slots), further dimensions of the resource
vector: "Insufficient <name>" per name, the score's mean, the reservation and its release, the
invariant; submit refuses a name no node advertises, naming the known ones."""

from __future__ import annotations

import pytest

from nodes.models import Node
from tasks import services
from tasks.accounting import invariant_violations
from tasks.models import Task, TaskStatus
from tasks.placement import scorers
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest
from tasks.placement.pipeline import choose
from tasks.placement.reservation import place_pending_tasks
from tests import builders

S = TaskStatus


def view(name: str, node_id: int, **resources: int) -> NodeView:
    return NodeView(id=node_id, name=name, cpu_capacity=4000, mem_capacity=8192, resources=resources)


def test_a_named_resource_filters_nodes_and_names_itself_when_none_has_enough():
    nodes = NodeTable([view("a-none", 1), view("b-one", 2, matlab=1), view("c-two", 3, matlab=2)])

    assert nodes.names[choose(nodes, TaskRequest(cpu=100, mem=64, resources={"matlab": 2})).index] == "c-two"
    decision = choose(nodes, TaskRequest(cpu=100, mem=64, resources={"matlab": 3}))
    assert decision.index is None
    assert decision.explain() == "0/3 nodes are available: 3 Insufficient matlab."
    # a name no node has: every node is short of it
    assert choose(nodes, TaskRequest(cpu=100, mem=64, resources={"fpga": 1})).explain() == \
        "0/3 nodes are available: 3 Insufficient fpga."


def test_a_named_resource_is_one_more_dimension_of_the_score():
    nodes = NodeTable([view("a", 1, fpga=4)])

    # cpu 3/4, mem 3/4, fpga 2/4 left: the mean over the three the node has
    assert scorers.normalized_leftover(nodes, TaskRequest(cpu=1000, mem=2048, resources={"fpga": 2})).tolist() == \
        pytest.approx([(0.75 + 0.75 + 0.5) / 3])


@pytest.fixture
def books_balance(db):
    yield
    assert invariant_violations() == []


@pytest.mark.usefixtures("books_balance")
def test_named_resources_are_reserved_released_and_waited_for():
    node = builders.node("licensed", cpu=8, resources={"matlab": 2})
    tasks = [builders.task(f"t{i}", resources={"matlab": 1}) for i in range(3)]

    place_pending_tasks()

    first, second, third = (Task.objects.get(pk=t.pk) for t in tasks)
    assert (first.status, second.status, third.status) == (S.ASSIGNED, S.ASSIGNED, S.PENDING)
    assert third.status_message.startswith("0/1 nodes are available: 1 Insufficient matlab.")  # + reservation note
    assert Node.objects.get(pk=node.pk).resources_allocated == {"matlab": 2}

    services.cancel_task(task_id=first.pk)
    assert Node.objects.get(pk=node.pk).resources_allocated == {"matlab": 1}
    place_pending_tasks()
    assert Task.objects.get(pk=third.pk).status == S.ASSIGNED


def test_the_invariant_notices_named_books_that_disagree(db):
    node = builders.node("licensed", cpu=8, resources={"matlab": 2})
    builders.placed(builders.task(resources={"matlab": 1}))
    Node.objects.filter(pk=node.pk).update(resources_allocated={"matlab": 2})

    assert invariant_violations() == ["licensed: named resources allocated {'matlab': 2}, tasks hold {'matlab': 1}"]


def test_submit_takes_known_names_and_refuses_others_naming_the_known(api):
    builders.node("licensed", resources={"matlab": 2, "fpga": 1})

    ok = api.post("/api/v1/tasks", {"command": "true", "resources": {"matlab": 1}}, format="json")
    refused = api.post("/api/v1/tasks", {"command": "true", "resources": {"cuda-licence": 1}}, format="json")

    assert ok.status_code == 201 and ok.json()["resources"] == {"matlab": 1}
    assert refused.status_code == 400
    assert refused.json()["resources"] == ["No node advertises cuda-licence; known: fpga, matlab."]
    node = api.get("/api/v1/nodes").json()["results"][0]
    assert node["resources"] == {"fpga": {"capacity": 1, "allocated": 0, "free": 1},
                                 "matlab": {"capacity": 2, "allocated": 1, "free": 1}}


@pytest.mark.parametrize("resources", [{"matlab": -1}, {"matlab": 1.5}, {"matlab": True}, {"matlab": "1"},
                                       {"gpu": 1}, {"cpu": 1}, {"9lives": 1}, ["matlab"]])
def test_a_bad_named_request_is_a_400_naming_the_field(api, resources):
    builders.node("licensed", resources={"matlab": 2})

    response = api.post("/api/v1/tasks", {"command": "true", "resources": resources}, format="json")

    assert response.status_code == 400 and "resources" in response.json(), response.content
    assert not Task.objects.exists()
