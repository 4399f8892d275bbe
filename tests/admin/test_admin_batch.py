"""Arrays and dependencies in /admin/: visible on the task and array pages; cancelling an array is
an admin action through the service."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tasks import services
from tasks.batch import arrays
from tasks.batch.array_spec import parse
from tasks.models import Task, TaskArray, TaskStatus
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create(username="root", is_staff=True, is_superuser=True))
    return client


def test_task_page_shows_dependencies_dependents_and_array(admin_client):
    array, elements = arrays.submit_array(spec=parse("0-2%1"), text="0-2%1",
                                          fields={"command": "true", "cpu": 100, "mem": 16})
    waiter = services.submit_task(command="true", cpu=100, mem=16, depends_on=[elements[0].pk])
    page = admin_client.get(f"/admin/tasks/task/{elements[0].pk}/change/").content.decode()
    assert f'/admin/tasks/task/{waiter.pk}/change/">#{waiter.pk}</a>' in page
    assert f'/admin/tasks/taskarray/{array.pk}/change/">array {array.pk}</a>' in page
    page = admin_client.get(f"/admin/tasks/task/{waiter.pk}/change/").content.decode()
    assert f'">#{elements[0].pk}</a>' in page
    listing = admin_client.get(f"/admin/tasks/task/?array__id__exact={array.pk}")
    assert listing.status_code == 200 and listing.content.decode().count("/admin/tasks/task/") >= 3
    arrays_page = admin_client.get("/admin/tasks/taskarray/").content.decode()
    assert "PENDING 3" in arrays_page and "0-2%1" in arrays_page


def test_cancelling_an_array_in_the_admin(admin_client):
    node = builders.node()
    array, _ = arrays.submit_array(spec=parse("0-3"), text="0-3", fields={"command": "true", "cpu": 1000, "mem": 16})
    builders.place_pending_tasks()
    response = admin_client.post("/admin/tasks/taskarray/", {"action": "cancel", "_selected_action": [array.pk]})
    assert response.status_code == 302
    assert set(Task.objects.filter(array=array).values_list("status", flat=True)) == {TaskStatus.CANCELLED}
    node.refresh_from_db()
    assert node.cpu_allocated == 0
    assert TaskArray.objects.filter(pk=array.pk).exists()
