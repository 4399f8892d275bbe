"""Ownership and privacy through every path (issue 17): everyone signed in sees a task's metadata;
its env values and output only its owner and operators; acting on it needs its owner (with
tasks.add_task) or an operator (tasks.cancel_any_task). All paths ask tasks.access."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from tasks.access import MASK
from tasks.models import LogChunk, Task, TaskStatus
from tests import builders
from tests.conftest import make_user, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hashing():
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def people(db):
    alice = make_user("alice", "tasks.add_task")
    bob = make_user("bob", "tasks.add_task", "tasks.change_task")  # change_task alone is not an operator
    ops = make_user("ops", "tasks.view_any_task", "tasks.cancel_any_task")
    staff = make_user("staffer", staff=True)
    return {name: token_client(user) for name, user in
            (("alice", alice), ("bob", bob), ("ops", ops), ("staff", staff))}


@pytest.fixture
def alices_task(people):
    response = people["alice"].post("/api/v1/tasks", {"command": "echo hi", "env": {"TOKEN": "s3cret"}},
                                    format="json")
    assert response.status_code == 201, response.content
    task = Task.objects.get(pk=response.json()["id"])
    LogChunk.objects.create(task=task, attempt=1, seq=0, stream=1, data=b"the output\n", ts=1.0)
    Task.objects.filter(pk=task.pk).update(attempt=1)
    return task


def test_the_owner_sees_env_values_others_see_keys_only(people, alices_task):
    mine = people["alice"].get(f"/api/v1/tasks/{alices_task.pk}").json()
    theirs = people["bob"].get(f"/api/v1/tasks/{alices_task.pk}").json()

    assert mine["env"] == {"TOKEN": "s3cret"} and mine["private_visible"] is True
    assert theirs["env"] == {"TOKEN": MASK} and theirs["private_visible"] is False
    assert "s3cret" not in str(people["bob"].get(f"/api/v1/tasks/{alices_task.pk}").content)
    assert theirs["owner"] == mine["owner"] == "alice"  # metadata for everyone


@pytest.mark.parametrize("who", ["ops", "staff"])
def test_operators_see_env_values_and_output(people, alices_task, who):
    client = people[who]
    assert client.get(f"/api/v1/tasks/{alices_task.pk}").json()["env"] == {"TOKEN": "s3cret"}
    assert client.get(f"/api/v1/tasks/{alices_task.pk}/logs").status_code == 200
    assert client.get(f"/api/v1/tasks/{alices_task.pk}/logs/raw").status_code == 200


@pytest.mark.parametrize("path", ["logs", "logs/raw"])
def test_another_user_is_refused_the_output(people, alices_task, path):
    refused = people["bob"].get(f"/api/v1/tasks/{alices_task.pk}/{path}")
    allowed = people["alice"].get(f"/api/v1/tasks/{alices_task.pk}/{path}")

    assert refused.status_code == 403, refused.content
    assert b"the output" not in refused.content
    assert allowed.status_code == 200
    if path == "logs":  # the raw download's content is checked against a real master (test_privacy_cluster)
        assert allowed.json()["chunks"][0]["data"] == "the output\n"


@pytest.mark.parametrize("action", ["cancel", "rerun"])
def test_another_user_with_change_task_cannot_act_on_the_task(people, alices_task, action):
    if action == "rerun":
        people["ops"].post(f"/api/v1/tasks/{alices_task.pk}/cancel")
    before = Task.objects.count()
    status_before = Task.objects.get(pk=alices_task.pk).status

    response = people["bob"].post(f"/api/v1/tasks/{alices_task.pk}/{action}")

    assert response.status_code == 403, response.content
    assert Task.objects.count() == before
    assert Task.objects.get(pk=alices_task.pk).status == status_before


def test_the_owner_and_an_operator_may_cancel(people, alices_task):
    other = builders.task(submitter=User.objects.get(username="alice"))
    assert people["alice"].post(f"/api/v1/tasks/{alices_task.pk}/cancel").status_code == 200
    assert people["ops"].post(f"/api/v1/tasks/{other.pk}/cancel").status_code == 200
    assert set(Task.objects.filter(pk__in=[alices_task.pk, other.pk]).values_list("status", flat=True)) == {
        TaskStatus.CANCELLED}


def test_the_owner_without_add_task_cannot_cancel(people):
    carol = make_user("carol")
    task = builders.task(submitter=carol)
    assert token_client(carol).post(f"/api/v1/tasks/{task.pk}/cancel").status_code == 403


def test_owner_filter_me_and_a_name(people, alices_task):
    builders.task(submitter=User.objects.get(username="bob"))
    mine = people["alice"].get("/api/v1/tasks?owner=me").json()["results"]
    bobs = people["alice"].get("/api/v1/tasks?owner=bob").json()["results"]
    assert [t["owner"] for t in mine] == ["alice"]
    assert [t["owner"] for t in bobs] == ["bob"]


def _admin(username: str, *perms: str) -> Client:
    user = make_user(username, *perms, staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_admin_shows_owners_and_refuses_actions_on_others_tasks_without_the_permission(people, alices_task):
    clerk = _admin("clerk", "tasks.view_task", "tasks.change_task")
    listing = clerk.get("/admin/tasks/task/")
    assert listing.status_code == 200 and b"alice" in listing.content

    response = clerk.post("/admin/tasks/task/", {"action": "cancel", "_selected_action": [alices_task.pk]},
                          follow=True)

    assert response.status_code == 200
    assert Task.objects.get(pk=alices_task.pk).status == TaskStatus.PENDING
    assert b"only its owner or an operator" in response.content


def test_admin_operator_with_cancel_any_task_cancels(people, alices_task):
    boss = _admin("boss", "tasks.view_task", "tasks.change_task", "tasks.cancel_any_task")
    boss.post("/admin/tasks/task/", {"action": "cancel", "_selected_action": [alices_task.pk]}, follow=True)
    assert Task.objects.get(pk=alices_task.pk).status == TaskStatus.CANCELLED


def test_admin_masks_env_for_whoever_may_not_see_it():
    owner = make_user("dora", "tasks.add_task")
    task = builders.task(submitter=owner, env={"TOKEN": "s3cret"})
    superuser = Client()
    superuser.force_login(User.objects.create(username="root", is_staff=True, is_superuser=True))
    page = superuser.get(f"/admin/tasks/task/{task.pk}/change/")
    assert page.status_code == 200 and b"s3cret" in page.content  # staff are operators for reading
