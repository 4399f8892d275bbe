"""Dependencies (`tasks.batch.dependencies`): the conditions, the hold, the cascade cancel in one
transaction, and the submit's validation (400 naming the field, nothing written)."""

from __future__ import annotations

import pytest
from django.db import transaction

from scheduler_site.statuses import TaskStatus, WaitReason
from tasks import services
from tasks.batch import dependencies
from tasks.models import Task, TaskEvent
from tests import builders

S = TaskStatus


@pytest.mark.parametrize(("kind", "statuses", "expected"), [
    ("afterok", [S.SUCCEEDED, S.SUCCEEDED], "ready"),
    ("afterok", [S.SUCCEEDED, S.RUNNING], "wait"),
    ("afterok", [S.FAILED, S.RUNNING], "never"),
    ("afterok", [S.CANCELLED], "never"),
    ("afterany", [S.FAILED, S.SUCCEEDED, S.CANCELLED], "ready"),
    ("afterany", [S.FAILED, S.PENDING], "wait"),
    ("afternotok", [S.FAILED, S.CANCELLED], "ready"),
    ("afternotok", [S.FAILED, S.ASSIGNED], "wait"),
    ("afternotok", [S.SUCCEEDED, S.RUNNING], "never"),
])
def test_conditions(kind, statuses, expected):
    assert dependencies.outcome(kind, statuses) == expected


def _submit(**fields) -> Task:
    return services.submit_task(command="true", cpu=1000, mem=64, **fields)


def _cancel(task: Task) -> None:
    services.cancel_task(task_id=task.pk)


def _status(task: Task) -> tuple[str, str]:
    task.refresh_from_db()
    return task.status, task.status_reason


@pytest.mark.django_db
def test_a_task_waits_for_its_dependencies_with_their_ids_as_the_reason():
    builders.node("node-a")
    first, second = builders.task(), builders.task()
    waiter = _submit(depends_on=[second.pk, first.pk])
    report = builders.place_pending_tasks()
    waiter.refresh_from_db()
    assert waiter.status == S.PENDING and report.held == 1
    assert (waiter.status_reason, waiter.status_message) == (WaitReason.DEPENDENCY,
                                                             f"Waiting for task {first.pk}, {second.pk}.")


@pytest.mark.django_db
def test_a_dependency_that_can_never_hold_cancels_the_chain_in_one_transaction():
    a = builders.task()
    b = _submit(depends_on=[a.pk])                          # afterok a
    c = _submit(depends_on=[b.pk])                          # afterok b: cascade
    d = _submit(depends_on=[b.pk], dependency="afternotok")  # b cancelled: its condition is met
    e = _submit(depends_on=[c.pk], dependency="afterany")   # c cancelled: met
    with transaction.atomic():
        _cancel(a)
        # all of it inside the transaction that cancelled a
        assert _status(b) == (S.CANCELLED, "DependencyNeverSatisfied")
        assert _status(c) == (S.CANCELLED, "DependencyNeverSatisfied")
    assert _status(d)[0] == S.PENDING and _status(e)[0] == S.PENDING
    assert f"Task {a.pk} is CANCELLED: afterok can never be met." == Task.objects.get(pk=b.pk).status_message
    assert TaskEvent.objects.filter(task=c, reason="DependencyNeverSatisfied").count() == 1


@pytest.mark.django_db
def test_a_long_chain_cascades_without_recursion():
    head = builders.task()
    previous = head
    chain = []
    for _ in range(300):
        previous = _submit(depends_on=[previous.pk])
        chain.append(previous.pk)
    _cancel(head)
    assert set(Task.objects.filter(pk__in=chain).values_list("status", flat=True)) == {S.CANCELLED}


@pytest.mark.django_db
def test_the_hold_cancels_what_can_never_hold_when_settling_missed_it():
    builders.node("node-a")
    a = builders.task()
    b = _submit(depends_on=[a.pk])
    Task.objects.filter(pk=a.pk).update(status=S.FAILED)  # as if settle had skipped b (row locked)
    builders.place_pending_tasks()
    assert _status(b) == (S.CANCELLED, "DependencyNeverSatisfied")


@pytest.mark.django_db
def test_a_met_dependency_lets_the_task_be_placed():
    node = builders.node("node-a")
    a = builders.task_in(S.SUCCEEDED, on=node)
    b = _submit(depends_on=[a.pk])
    b.refresh_from_db()
    assert b.status == S.ASSIGNED  # afterok on a SUCCEEDED task: placed at submit


# -- the API -----------------------------------------------------------------------------------------


@pytest.fixture
def client(operator):
    from tests.conftest import token_client

    return token_client(operator)


def _post(client, **body):
    return client.post("/api/v1/tasks", {"command": "true", **body}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"depends_on": [999_999]}, "depends_on"),
    ({"depends_on": "1"}, "depends_on"),
    ({"depends_on": [True]}, "depends_on"),
    ({"depends_on": [1.5]}, "depends_on"),
    ({"depends_on": [0]}, "depends_on"),
    ({"dependency": "after"}, "dependency"),
    ({"depends_on": list(range(1, 1003))}, "depends_on"),
])
def test_bad_dependencies_are_refused_naming_the_field_and_nothing_is_written(client, body, field):
    builders.task()
    before = (Task.objects.count(), TaskEvent.objects.count(), Task.depends_on.through.objects.count())
    response = _post(client, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert (Task.objects.count(), TaskEvent.objects.count(), Task.depends_on.through.objects.count()) == before


@pytest.mark.django_db
def test_a_task_cannot_depend_on_itself(client):
    existing = builders.task()
    response = _post(client, depends_on=[existing.pk + 1])  # the id it would get
    assert response.status_code == 400 and "depends_on" in response.json()
    assert not Task.objects.filter(pk=existing.pk + 1).exists()


@pytest.mark.django_db
def test_afterok_on_a_failed_task_is_refused(client):
    builders.node("node-a")
    failed = builders.moved(builders.task(), S.CANCELLED)
    response = _post(client, depends_on=[failed.pk])
    assert response.status_code == 400
    assert response.json()["depends_on"] == [f"Task {failed.pk} is CANCELLED: afterok can never be met."]
    assert _post(client, depends_on=[failed.pk], dependency="afternotok").status_code == 201


@pytest.mark.django_db
def test_task_json_shows_dependencies_and_dependents(client):
    a = builders.task()
    b = _post(client, depends_on=[a.pk], dependency="afterany").json()
    assert (b["depends_on"], b["dependency"], b["dependents"]) == ([a.pk], "afterany", [])
    shown = client.get(f"/api/v1/tasks/{a.pk}").json()
    assert (shown["depends_on"], shown["dependency"], shown["dependents"]) == ([], "afterok", [b["id"]])
