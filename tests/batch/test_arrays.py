"""Arrays through the API (`tasks.batch.arrays`): one task per index in one transaction, the
environment, the throttle hold, the array's counts, its cancel, the task list's filter, and bad
input refused with nothing written."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduler_site.statuses import TaskStatus, WaitReason
from tasks.models import Task, TaskArray, TaskEvent
from tests import builders
from tests.conftest import token_client

S = TaskStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def client(operator):
    return token_client(operator)


def _post(client, **body):
    return client.post("/api/v1/tasks", {"command": "true", "cpu": 0.1, "mem": 16, **body}, format="json")


def _written() -> tuple[int, int, int]:
    return Task.objects.count(), TaskEvent.objects.count(), TaskArray.objects.count()


def test_an_array_is_one_task_per_index_with_its_environment(client):
    response = _post(client, array="1,3,7-9:2%2", name="sweep", env={"X": "1"}, retries=1)
    assert response.status_code == 201, response.content
    body = response.json()
    array_id = body["array"]["id"]
    assert body["array"] == {"id": array_id, "size": 4, "throttle": 2}
    assert response.headers["Location"] == f"/api/v1/arrays/{array_id}"
    assert [t["array_index"] for t in body["tasks"]] == [1, 3, 7, 9]
    assert {t["array_id"] for t in body["tasks"]} == {array_id}
    assert {(t["name"], t["retries"], t["status"]) for t in body["tasks"]} == {("sweep", 1, "PENDING")}
    envs = {t.array_index: t.env for t in Task.objects.filter(array_id=array_id)}
    assert envs[7] == {"X": "1", "SCHEDULER_ARRAY_ID": str(array_id), "SCHEDULER_ARRAY_INDEX": "7"}
    assert TaskEvent.objects.filter(task__array_id=array_id, reason="Submitted").count() == 4


def test_ten_thousand_elements_are_written_in_a_few_statements(client):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = _post(client, array="0-9999")
        seconds = time.perf_counter() - started
    assert response.status_code == 201
    assert Task.objects.filter(array_id=response.json()["array"]["id"]).count() == 10_000
    assert len(queries) < 100, len(queries)  # bulk INSERTs of tasks and events, not a round trip each
    print(f"\n10,000-element array submitted in {seconds:.2f} s on {connection.vendor}")


@pytest.mark.parametrize("spec", ["0-9%0", "0-", "a-b", "0-10000", "9-1", "0-9:0", "", "1,,2", "0-9%"])
def test_bad_array_syntax_is_refused_naming_the_field_and_nothing_is_written(client, spec):
    before = _written()
    response = _post(client, array=spec)
    assert response.status_code == 400, response.content
    assert "array" in response.json()
    assert _written() == before


def test_an_array_with_an_unknown_dependency_writes_nothing(client):
    before = _written()
    response = _post(client, array="0-9", depends_on=[999_999])
    assert response.status_code == 400 and "depends_on" in response.json()
    assert _written() == before


def test_an_array_is_not_a_number(client):
    assert _post(client, array=5).status_code == 400


def test_the_throttle_holds_elements_beyond_the_limit_in_index_order():
    builders.node("node-a", cpu=64, mem=65536)
    from tests.conftest import make_user

    client = token_client(make_user("submitter", "tasks.add_task"))
    array_id = _post(client, array="0-9%3").json()["array"]["id"]
    builders.place_pending_tasks()
    elements = list(Task.objects.filter(array_id=array_id).order_by("array_index"))
    assert [t.status for t in elements] == [S.ASSIGNED] * 3 + [S.PENDING] * 7
    assert {(t.status_reason, t.status_message) for t in elements[3:]} == {
        (WaitReason.THROTTLE, f"Array {array_id} runs at most 3 at once (%3).")}
    builders.moved(elements[0], S.RUNNING)
    builders.moved(Task.objects.get(pk=elements[0].pk), S.SUCCEEDED, exit_code=0)
    builders.place_pending_tasks()
    assert Task.objects.filter(array_id=array_id, status__in=[S.ASSIGNED, S.RUNNING]).count() == 3
    assert Task.objects.get(pk=elements[3].pk).status == S.ASSIGNED


def test_array_detail_counts_and_cancel_and_the_list_filter(client):
    node = builders.node("node-a", cpu=2, mem=4096)
    array_id = _post(client, array="0-4", cpu=1).json()["array"]["id"]
    builders.place_pending_tasks()
    detail = client.get(f"/api/v1/arrays/{array_id}").json()
    assert (detail["size"], detail["spec"], detail["throttle"]) == (5, "0-4", None)
    assert detail["counts"] == {"PENDING": 3, "ASSIGNED": 2, "RUNNING": 0, "SUCCEEDED": 0, "FAILED": 0,
                                "CANCELLED": 0}
    listed = client.get(f"/api/v1/tasks?array={array_id}&page_size=100").json()
    assert sorted(t["array_index"] for t in listed["results"]) == [0, 1, 2, 3, 4]
    assert client.get("/api/v1/tasks?array=x").status_code == 400
    cancelled = client.post(f"/api/v1/arrays/{array_id}/cancel").json()
    assert cancelled["counts"]["CANCELLED"] == 5
    node.refresh_from_db()
    assert (node.cpu_allocated, node.mem_allocated) == (0, 0)  # the running ones gave theirs back
    assert client.get("/api/v1/arrays/999999").status_code == 404
    assert client.post("/api/v1/arrays/abc/cancel").status_code == 404


def test_cancelling_an_array_needs_the_permission(viewer_api, client):
    array_id = _post(client, array="0-1").json()["array"]["id"]
    assert viewer_api.post(f"/api/v1/arrays/{array_id}/cancel").status_code == 403
    assert viewer_api.get(f"/api/v1/arrays/{array_id}").status_code == 200
