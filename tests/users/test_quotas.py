"""Quotas (issue 17): per user and per group (shared by its members), over every resource of the
vector and the count of tasks in use; a task over its owner's quota stays PENDING with the reason
Quota and is placed as soon as the quota frees; a submit over the pending limit answers 429; the
API and the admin manage quotas, and bad input answers 400 naming the field."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client, override_settings

from scheduler_site.exceptions import QuotaExceeded
from scheduler_site.statuses import WaitReason
from tasks.models import Quota, Task, TaskStatus
from tasks.placement.reservation import place_pending_tasks
from tests import builders
from tests.api.support import row_counts
from tests.conftest import make_user, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hashing():
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def statuses(tasks) -> list[str]:
    return [Task.objects.get(pk=t.pk).status for t in tasks]


def test_a_task_over_its_owners_cpu_quota_waits_with_the_reason_and_goes_when_it_frees():
    alice = make_user("alice", "tasks.add_task")
    Quota.objects.create(user=alice, limits={"cpu": 2})
    builders.node("n1", cpu=8)
    tasks = [builders.task(cpu=1, submitter=alice) for _ in range(3)]

    place_pending_tasks()

    assert statuses(tasks) == [TaskStatus.ASSIGNED, TaskStatus.ASSIGNED, TaskStatus.PENDING]
    waiting = Task.objects.get(pk=tasks[2].pk)
    assert waiting.status_reason == WaitReason.QUOTA
    assert waiting.status_message == "alice uses 2 of 2 cpu"

    builders.moved(tasks[0], TaskStatus.CANCELLED)
    place_pending_tasks()
    assert Task.objects.get(pk=tasks[2].pk).status == TaskStatus.ASSIGNED


def test_every_resource_of_the_vector_is_limited_memory_too():
    alice = make_user("alice", "tasks.add_task")
    Quota.objects.create(user=alice, limits={"mem": 1000})
    builders.node("n1", cpu=8, mem=8192)
    tasks = [builders.task(cpu=0.5, mem=400, submitter=alice) for _ in range(3)]

    place_pending_tasks()

    assert statuses(tasks).count(TaskStatus.ASSIGNED) == 2
    assert Task.objects.get(pk=tasks[2].pk).status_message == "alice uses 800 MiB of 1000 MiB memory"


def test_a_group_quota_is_shared_by_its_members_and_others_are_not_held():
    team = Group.objects.create(name="physics")
    alice, bob, carol = (make_user(name, "tasks.add_task") for name in ("alice", "bob", "carol"))
    team.user_set.add(alice, bob)
    Quota.objects.create(group=team, limits={"cpu": 3})
    builders.node("n1", cpu=16)
    tasks = [builders.task(cpu=1, submitter=owner) for owner in (alice, bob, alice, bob, carol, carol)]

    place_pending_tasks()

    assert statuses(tasks) == [TaskStatus.ASSIGNED] * 3 + [TaskStatus.PENDING] + [TaskStatus.ASSIGNED] * 2
    assert Task.objects.get(pk=tasks[3].pk).status_message == "group physics uses 3 of 3 cpu"


def test_user_and_group_quota_both_hold():
    team = Group.objects.create(name="physics")
    alice = make_user("alice", "tasks.add_task")
    team.user_set.add(alice)
    Quota.objects.create(group=team, limits={"cpu": 10})
    Quota.objects.create(user=alice, max_running=2)
    builders.node("n1", cpu=16)
    tasks = [builders.task(cpu=1, submitter=alice) for _ in range(3)]

    place_pending_tasks()

    assert statuses(tasks).count(TaskStatus.ASSIGNED) == 2
    assert Task.objects.get(pk=tasks[2].pk).status_message == "alice runs 2 of 2 tasks at once"


def test_the_submit_fast_path_keeps_the_quota():
    alice = make_user("alice", "tasks.add_task")
    Quota.objects.create(user=alice, limits={"cpu": 1})
    builders.node("n1", cpu=8)
    first = builders.submitted(cpu=1, submitter=alice)
    second = builders.submitted(cpu=1, submitter=alice)
    assert statuses([first, second]) == [TaskStatus.ASSIGNED, TaskStatus.PENDING]


def test_a_submit_over_the_pending_limit_answers_429_naming_the_limit_and_writes_nothing():
    alice = make_user("alice", "tasks.add_task")
    Quota.objects.create(user=alice, max_pending=2)
    client = token_client(alice)
    for _ in range(2):
        assert client.post("/api/v1/tasks", {"command": "true"}, format="json").status_code == 201
    counts = row_counts()

    response = client.post("/api/v1/tasks", {"command": "true"}, format="json")

    assert response.status_code == 429, response.content
    assert "pending" in response.json() and "2 of 2 tasks pending" in response.json()["detail"]
    assert row_counts() == counts
    with pytest.raises(QuotaExceeded):
        builders.submitted(submitter=alice)


# -- the API -----------------------------------------------------------------------------------


@pytest.fixture
def admin_api(db):
    return token_client(make_user("quotaboss", "tasks.add_quota", "tasks.change_quota", "tasks.delete_quota"))


def test_operators_manage_quotas_everyone_reads_them_with_usage(admin_api):
    alice = make_user("alice", "tasks.add_task")
    Group.objects.create(name="physics")
    builders.node("n1", cpu=8)
    builders.placed(builders.task(cpu=1.5, mem=300, submitter=alice))

    created = admin_api.post("/api/v1/quotas", {"user": "alice", "cpu": 4, "running": 3}, format="json")
    group = admin_api.post("/api/v1/quotas", {"group": "physics", "mem": 2048}, format="json")

    assert created.status_code == 201, created.content
    assert group.status_code == 201, group.content
    body = token_client(alice).get("/api/v1/quotas").json()["results"]
    assert body[0]["holder"] == "alice" and body[0]["cpu"] == 4 and body[0]["mem"] is None
    assert body[0]["used"] == {"cpu": 1.5, "mem": 300, "gpu": 0, "running": 1, "pending": 0}
    assert body[1]["holder"] == "group physics" and body[1]["mem"] == 2048

    changed = admin_api.patch(f"/api/v1/quotas/{created.json()['id']}", {"cpu": None, "pending": 5}, format="json")
    assert changed.status_code == 200 and changed.json()["cpu"] is None and changed.json()["pending"] == 5
    me = token_client(alice).get("/api/v1/quotas/me").json()
    assert me["username"] == "alice" and [q["holder"] for q in me["quotas"]] == ["alice"]
    assert admin_api.delete(f"/api/v1/quotas/{created.json()['id']}").status_code == 204
    assert not Quota.objects.filter(user=alice).exists()


@pytest.mark.parametrize("body, field", [
    ({"user": "alice", "cpu": -1}, "cpu"),
    ({"user": "alice", "mem": "lots"}, "mem"),
    ({"user": "alice", "running": -2}, "running"),
    ({"user": "alice", "pending": 1.5}, "pending"),
    ({"user": "nobody", "cpu": 1}, "user"),
    ({"group": "nogroup", "cpu": 1}, "group"),
    ({"cpu": 1}, "user"),
    ({"user": "alice", "group": "physics"}, "user"),
    ({"user": "alice", "gpus": 1}, "gpus"),
    ({"user": "alice", "cpu": "NaN"}, "cpu"),
])
def test_bad_quotas_answer_400_naming_the_field_and_change_nothing(admin_api, body, field):
    make_user("alice")
    Group.objects.create(name="physics")

    response = admin_api.post("/api/v1/quotas", body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Quota.objects.exists()


def test_a_second_quota_for_the_same_user_is_400_and_only_operators_may_write(admin_api):
    alice = make_user("alice", "tasks.add_task")
    assert admin_api.post("/api/v1/quotas", {"user": "alice", "cpu": 1}, format="json").status_code == 201
    again = admin_api.post("/api/v1/quotas", {"user": "alice", "cpu": 2}, format="json")
    assert again.status_code == 400 and "user" in again.json()
    assert token_client(alice).post("/api/v1/quotas", {"user": "alice", "cpu": 99}, format="json").status_code == 403
    quota = Quota.objects.get()
    assert token_client(alice).patch(f"/api/v1/quotas/{quota.pk}", {"cpu": 99}, format="json").status_code == 403
    assert Quota.objects.get().limits == {"cpu": 1}


def test_quotas_in_the_admin_one_field_per_resource():
    make_user("alice")
    root = Client()
    root.force_login(User.objects.create(username="root", is_staff=True, is_superuser=True))
    alice = User.objects.get(username="alice")

    response = root.post("/admin/tasks/quota/add/", {"user": alice.pk, "cpu": "2.5", "mem": "", "max_running": "4",
                                                     "max_pending": ""})

    assert response.status_code == 302, response.content.decode()[:3000]
    quota = Quota.objects.get()
    assert quota.limits == {"cpu": 2.5} and quota.max_running == 4
    assert b"2.5" in root.get("/admin/tasks/quota/").content
    refused = root.post("/admin/tasks/quota/add/", {"cpu": "-1"})
    assert refused.status_code == 200 and Quota.objects.count() == 1
