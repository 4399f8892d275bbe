"""Several tasks in one request (`POST /api/v1/tasks` with a list; `schedctl submit -f`): one
transaction, local names in depends_on, errors keyed by item and field, nothing written on error."""

from __future__ import annotations

import pytest

from tasks.models import Task, TaskArray, TaskEvent
from tests import builders
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(operator):
    return token_client(operator)


def _written():
    return Task.objects.count(), TaskEvent.objects.count(), TaskArray.objects.count()


def test_local_names_resolve_in_dependency_order(client):
    existing = builders.task()
    response = client.post("/api/v1/tasks", [
        {"command": "echo report", "name": "report", "depends_on": ["sweep", "prepare"], "dependency": "afterany"},
        {"command": "echo sweep", "name": "sweep", "array": "0-2", "depends_on": ["prepare"]},
        {"command": "echo prepare", "name": "prepare", "depends_on": [existing.pk]},
    ], format="json")
    assert response.status_code == 201, response.content
    report, sweep, prepare = response.json()["results"]
    element_ids = [t["id"] for t in sweep["tasks"]]
    assert prepare["depends_on"] == [existing.pk]
    assert sorted(report["depends_on"]) == sorted([*element_ids, prepare["id"]])
    assert all(list(Task.objects.get(pk=i).depends_on.values_list("pk", flat=True)) == [prepare["id"]]
               for i in element_ids)


@pytest.mark.parametrize(("items", "field"), [
    ([{"command": "true", "depends_on": ["nope"]}], "[0].depends_on"),
    ([{"command": "true", "name": "a", "depends_on": ["b"]}, {"command": "true", "name": "b", "depends_on": ["a"]}],
     "[0].depends_on"),
    ([{"command": "true", "name": "a"}, {"command": "true", "name": "a"}, {"command": "true", "depends_on": ["a"]}],
     "[2].depends_on"),
    ([{"command": "true"}, {"command": "true", "depends_on": [999_999]}], "[1].depends_on"),
    ([{"command": "true"}, {"command": "true", "array": "0-9%0"}], "[1].array"),
    ([{"command": "true"}, {"cpu": 1}], "[1].command"),
    ([], "non_field_errors"),
])
def test_any_bad_item_refuses_the_whole_request(client, items, field):
    before = _written()
    response = client.post("/api/v1/tasks", items, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert _written() == before


def test_a_single_task_cannot_use_a_local_name(client):
    response = client.post("/api/v1/tasks", {"command": "true", "depends_on": ["a"]}, format="json")
    assert response.status_code == 400 and "depends_on" in response.json()
