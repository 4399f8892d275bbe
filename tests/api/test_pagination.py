"""List pages: the same `count`, `next`, `previous` and results whether or not the first page is
read without a COUNT query (it is, when the list fits on it)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import builders


def counts(queries) -> int:
    return sum("COUNT(" in query["sql"].upper() for query in queries)


def test_a_first_page_holding_the_whole_list_needs_no_count_query(api):
    tasks = [builders.task() for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        page = api.get("/api/v1/tasks", {"page_size": 3}).json()

    assert page["count"] == 3 and page["next"] is None and page["previous"] is None
    assert [task["id"] for task in page["results"]] == [task.pk for task in reversed(tasks)]
    assert counts(queries.captured_queries) == 0


def test_a_full_first_page_counts_the_list(api):
    tasks = [builders.task() for _ in range(5)]
    with CaptureQueriesContext(connection) as queries:
        page = api.get("/api/v1/tasks", {"page_size": 2}).json()

    assert page["count"] == 5 and "page=2" in page["next"] and page["previous"] is None
    assert [task["id"] for task in page["results"]] == [tasks[4].pk, tasks[3].pk]
    assert counts(queries.captured_queries) == 1


def test_later_pages_and_pages_past_the_end(api):
    tasks = [builders.task() for _ in range(5)]
    last = api.get("/api/v1/tasks", {"page_size": 2, "page": 3}).json()

    assert last["count"] == 5 and last["next"] is None and "page=2" in last["previous"]
    assert [task["id"] for task in last["results"]] == [tasks[0].pk]
    assert api.get("/api/v1/tasks", {"page_size": 2, "page": 4}).status_code == 404
    assert api.get("/api/v1/tasks", {"page_size": 2, "page": "last"}).json()["results"][0]["id"] == tasks[0].pk


def test_an_empty_list_has_one_empty_page(api):
    page = api.get("/api/v1/tasks").json()

    assert page == {"count": 0, "next": None, "previous": None, "results": []}
