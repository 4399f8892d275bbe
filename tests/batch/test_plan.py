"""The dry run (`POST /api/v1/tasks/plan`): the node a task would go to now and, for every other
node, why not, in the placement pipeline's own words; nothing written."""

from __future__ import annotations

import pytest

from nodes.models import Node
from tasks.models import Task, TaskEvent
from tests import builders
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(operator):
    return token_client(operator)


def _plan(client, **body):
    return client.post("/api/v1/tasks/plan", {"command": "true", **body}, format="json")


def _written():
    return (Task.objects.count(), TaskEvent.objects.count(),
            list(Node.objects.order_by("pk").values_list("cpu_allocated", "mem_allocated", "generation")))


def test_each_node_gets_its_reason_and_the_best_fit_is_chosen(client):
    builders.node("big", cpu=8, mem=8192)
    builders.node("small", cpu=2, mem=8192)
    builders.node("tiny", cpu=0.5, mem=8192)
    builders.node("gpu", cpu=8, mem=8192, labels={"gpu": "yes"})
    Node.objects.filter(name="big").update(draining=True)
    before = _written()
    body = _plan(client, cpu=1, mem=64).json()
    assert _written() == before
    assert body["node"]["name"] == "small" and body["placeable"] is True
    assert body["status_message"] == "Would be placed on small."
    by_name = {n["name"]: n for n in body["nodes"]}
    assert by_name["big"]["reason"] == "node(s) draining" and not by_name["big"]["feasible"]
    assert by_name["tiny"]["reason"] == "Insufficient cpu"
    assert by_name["gpu"]["feasible"] and by_name["gpu"]["reason"] is None and not by_name["gpu"]["chosen"]
    selector = _plan(client, cpu=1, node_selector={"gpu": "yes"}).json()
    assert selector["node"]["name"] == "gpu"
    assert {n["name"]: n["reason"] for n in selector["nodes"]}["small"] == "node(s) didn't match node selector"


def test_a_dependency_that_is_not_met_is_the_reason(client):
    builders.node("a")
    pending = builders.task()
    body = _plan(client, depends_on=[pending.pk]).json()
    assert (body["status_reason"], body["status_message"]) == ("Dependency", f"Waiting for task {pending.pk}.")
    assert body["placeable"] is False and body["node"]["name"] == "a"


def test_bad_input_is_refused_like_a_submit(client):
    before = _written()
    assert "depends_on" in _plan(client, depends_on=[999_999]).json()
    assert _plan(client, cpu=-1).status_code == 400
    assert "array" in _plan(client, array="0-9%0").json()
    assert _written() == before


def test_a_viewer_may_ask(viewer_api):
    assert _plan(viewer_api).status_code == 200
