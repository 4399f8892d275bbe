"""schedctl waits out a 503/429's Retry-After: GETs are tried again, a write only when the master
shed it before running it (code "overloaded"), at most three times."""

from __future__ import annotations

import json

import pytest
import requests

from schedctl.api import Api, CliError


def answer(status: int, body: dict, retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["content-type"] = "application/json"
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


BUSY = {"detail": "The master is busy; retry later.", "code": "overloaded"}
DB_DOWN = {"detail": "The database is unavailable right now; retry later.", "code": "database_unavailable"}


def api_with(*answers: requests.Response) -> tuple[Api, list[float], list[str]]:
    api = Api("http://m", "tok")
    waits: list[float] = []
    calls: list[str] = []
    queue = list(answers)

    def fake(method, url, **kwargs):
        calls.append(method)
        return queue.pop(0)

    api.session.request = fake
    api.sleep = waits.append
    return api, waits, calls


def test_a_get_waits_out_retry_after_and_gets_the_answer():
    api, waits, calls = api_with(answer(503, BUSY, "2"), answer(503, DB_DOWN, "1"), answer(200, {"ok": 1}))
    assert api.get("/api/v1/nodes") == {"ok": 1}
    assert waits == [2, 1] and calls == ["GET"] * 3


def test_a_shed_submit_is_sent_again_but_not_one_the_database_may_have_seen():
    api, waits, calls = api_with(answer(503, BUSY, "1"), answer(201, {"id": 7}))
    assert api.post("/api/v1/tasks", {"command": "true"}) == {"id": 7}
    assert waits == [1]

    api, waits, calls = api_with(answer(503, DB_DOWN, "2"))
    with pytest.raises(CliError, match="database is unavailable"):
        api.post("/api/v1/tasks", {"command": "true"})
    assert waits == [] and calls == ["POST"]


def test_it_gives_up_after_three_retries():
    api, waits, calls = api_with(*[answer(503, BUSY, "1") for _ in range(4)])
    with pytest.raises(CliError, match="busy"):
        api.get("/api/v1/tasks")
    assert len(calls) == 4 and waits == [1, 1, 1]
