"""GET /api/v1/tasks: the search filters (?q, ?owner, ?node, ?status together) and cursor pagination."""

from __future__ import annotations

import pytest

from tasks.models import Task
from tests import builders
from tests.api.support import row_counts
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def ids(api, **params) -> list[int]:
    response = api.get("/api/v1/tasks", params)
    assert response.status_code == 200, response.content
    return [task["id"] for task in response.json()["results"]]


def test_q_finds_text_in_the_name_or_the_command_in_any_case_or_an_id(api):
    backup = builders.task("tar czf /backup/home.tgz /home", name="nightly")
    report = builders.task("python report.py", name="Weekly-REPORT")
    builders.task("sleep 5")

    assert ids(api, q="BACKUP") == [backup.pk]
    assert ids(api, q="report") == [report.pk]
    assert ids(api, q="nightly") == [backup.pk]
    assert ids(api, q=f"#{report.pk}") == [report.pk]
    assert ids(api, q="no such text") == []


def test_owner_filters_by_the_submitters_username_and_combines_with_the_other_filters(api, operator):
    other = make_user("someone-else")
    mine = builders.task("echo mine", submitter=operator)
    builders.task("echo theirs", submitter=other)
    mine_cancelled = builders.task_in("CANCELLED", command="echo mine too", submitter=operator)

    assert ids(api, owner=operator.username) == [mine_cancelled.pk, mine.pk]
    assert ids(api, owner=operator.username, status="CANCELLED") == [mine_cancelled.pk]
    assert ids(api, owner=operator.username, q="too") == [mine_cancelled.pk]
    assert ids(api, owner="nobody") == []


def test_cursor_pages_walk_every_task_once_newest_first_without_a_count(api):
    created = [builders.task(f"echo {i}") for i in range(7)]
    seen, cursor, pages = [], "", 0
    while cursor is not None:
        body = api.get("/api/v1/tasks", {"cursor": cursor, "page_size": 3}).json()
        assert body["count"] is None
        seen += [task["id"] for task in body["results"]]
        cursor = body["next_cursor"]
        if cursor:
            assert f"cursor={cursor}" in body["next"]
        pages += 1
    assert seen == [t.pk for t in reversed(created)]
    assert pages == 3


def test_a_task_submitted_between_two_cursor_pages_does_not_shift_the_next_page(api):
    tasks = [builders.task(f"echo {i}") for i in range(4)]
    first = api.get("/api/v1/tasks", {"cursor": "", "page_size": 2}).json()
    builders.task("echo newer")
    second = api.get("/api/v1/tasks", {"cursor": first["next_cursor"], "page_size": 2}).json()
    assert [t["id"] for t in second["results"]] == [tasks[1].pk, tasks[0].pk]


def test_cursor_pages_keep_the_filters(api):
    wanted = [builders.task(f"grep needle {i}") for i in range(3)]
    builders.task("echo hay")
    first = api.get("/api/v1/tasks", {"cursor": "", "page_size": 2, "q": "needle"}).json()
    second = api.get(first["next"]).json()
    assert [t["id"] for t in first["results"] + second["results"]] == [t.pk for t in reversed(wanted)]
    assert second["next_cursor"] is None


def test_page_number_pagination_still_works_for_old_clients(api):
    builders.task("a"), builders.task("b"), builders.task("c")
    body = api.get("/api/v1/tasks", {"page_size": 2, "page": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "-5"}, "cursor"),
        ({"cursor": "0"}, "cursor"),
        ({"cursor": "", "page_size": "x"}, "page_size"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"owner": "a\x00"}, "owner"),
        ({"node": "n\x00"}, "node"),
        ({"status": "DONE"}, "status"),
    ],
)
def test_bad_list_parameters_get_a_400_naming_them(api, params, field):
    builders.task("a")
    before = row_counts()
    response = api.get("/api/v1/tasks", params)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert row_counts() == before


def test_rerun_submits_the_same_spec_as_a_new_task_linked_to_the_original(api, operator):
    original = builders.task_in(
        "CANCELLED", command="echo again", name="again", cpu=0.5, mem=64, priority=7, max_attempts=2, timeout=30,
        env={"A": "1"}, node_selector={"pool": "x"},
    )
    response = api.post(f"/api/v1/tasks/{original.pk}/rerun")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != original.pk
    assert body["rerun_of"] == original.pk
    assert body["status"] == "PENDING"
    rerun = Task.objects.get(pk=body["id"])
    for field in ("command", "name", "cpu", "mem", "priority", "max_attempts", "timeout", "env", "node_selector"):
        assert getattr(rerun, field) == getattr(original, field), field
    assert rerun.submitter == operator
    assert api.get(f"/api/v1/tasks/{original.pk}").json()["rerun_of"] is None


def test_rerun_of_an_unfinished_task_is_refused_and_creates_nothing(api):
    pending = builders.task("sleep 9")
    before = row_counts()
    response = api.post(f"/api/v1/tasks/{pending.pk}/rerun")
    assert response.status_code == 409
    assert row_counts() == before
    assert api.post("/api/v1/tasks/999999/rerun").status_code == 404


def test_rerun_needs_the_submit_permission(viewer_api):
    finished = builders.task_in("CANCELLED")
    assert viewer_api.post(f"/api/v1/tasks/{finished.pk}/rerun").status_code == 403
