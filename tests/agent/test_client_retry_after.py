"""The agent's HTTP client honours Retry-After: a master that answered 503/429 with it is not asked
again before that time; the next master is; when all asked for patience the call fails at once."""

from __future__ import annotations

import pytest
import requests

from agent.client import MasterClient, Unreachable
from agent.masters import Masters


def answer(status: int, retry_after: str | None = None, body: bytes = b"{}") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


class FakeSession:
    def __init__(self, answers: dict[str, list[requests.Response]]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.headers: dict = {}

    def post(self, url: str, **kwargs) -> requests.Response:
        master = url.split("/api/")[0]
        self.calls.append(master)
        return self.answers[master].pop(0)


def client_with(answers: dict[str, list[requests.Response]]) -> tuple[MasterClient, FakeSession]:
    client = MasterClient(Masters(list(answers)))
    session = FakeSession(answers)
    client.session = session
    return client, session


def test_a_busy_master_is_not_asked_again_before_its_retry_after_and_the_next_one_is():
    client, session = client_with({"http://m1": [answer(503, "30")], "http://m2": [answer(200), answer(200)]})

    assert client.heartbeat(node_id=1, token="t", body={}) == {}
    assert client.heartbeat(node_id=1, token="t", body={}) == {}
    assert session.calls == ["http://m1", "http://m2", "http://m2"]


def test_when_every_master_asked_for_patience_the_call_fails_at_once_saying_how_long():
    client, session = client_with({"http://m1": [answer(503, "5")], "http://m2": [answer(429, "8")]})

    with pytest.raises(Unreachable) as first:
        client.heartbeat(node_id=1, token="t", body={})
    with pytest.raises(Unreachable) as second:
        client.heartbeat(node_id=1, token="t", body={})

    assert first.value.retry_after == 5
    assert session.calls == ["http://m1", "http://m2"]  # the second call sent nothing
    assert 4 < second.value.retry_after <= 5


def test_a_503_without_retry_after_is_plain_unreachable():
    client, _ = client_with({"http://m1": [answer(503), answer(200)]})

    with pytest.raises(Unreachable) as error:
        client.heartbeat(node_id=1, token="t", body={})
    assert error.value.retry_after == 0
    assert client.heartbeat(node_id=1, token="t", body={}) == {}
