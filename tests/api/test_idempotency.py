"""Idempotency-Key on POST /api/v1/tasks: a retry gets the first answer and creates nothing; a
different body with the same key is a 422; concurrent duplicates create one task; keys expire
after 24 hours and the sweeper forgets them."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduler_site.idempotency import HEADER, TTL
from scheduler_site.models import IdempotencyKey
from tasks.models import Task, TaskEvent
from tasks.sweep import sweep_once
from tests.conftest import make_user, token_client

BODY = {"command": "echo once", "cpu": 0.5, "mem": 64, "name": "once"}


def submit(client, body=BODY, key: str | None = "key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/tasks", body, format="json", **headers)


@pytest.mark.django_db
def test_a_repeated_key_returns_the_first_answer_and_creates_nothing(api):
    first = submit(api)
    again = submit(api)

    assert first.status_code == again.status_code == 201, again.content
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Task.objects.count() == 1
    assert TaskEvent.objects.count() == TaskEvent.objects.filter(task_id=first.json()["id"]).count()


@pytest.mark.django_db
def test_the_same_body_written_differently_is_the_same_request(api):
    first = submit(api, BODY)
    again = submit(api, dict(reversed(list(BODY.items()))))

    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


@pytest.mark.django_db
def test_a_different_body_with_a_used_key_is_a_422_and_creates_nothing(api):
    submit(api)

    response = submit(api, {**BODY, "command": "echo twice"})

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "idempotency_key_reused"
    assert HEADER in response.json()
    assert Task.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user(api):
    other = token_client(make_user("other", "tasks.add_task"))

    assert submit(api).json()["id"] != submit(other).json()["id"]
    assert Task.objects.count() == 2


@pytest.mark.django_db
def test_without_a_key_every_post_creates_a_task(api):
    submit(api, key=None)
    submit(api, key=None)

    assert Task.objects.count() == 2
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", " padded ", "k" * 256, "tab\there", "caf\u00e9"])
def test_a_malformed_key_is_a_400_naming_the_header(api, key):
    response = api.post("/api/v1/tasks", BODY, format="json", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1"))

    assert response.status_code == 400, response.content
    assert HEADER in response.json()
    assert Task.objects.count() == 0


@pytest.mark.django_db
def test_a_refused_body_stores_no_key(api):
    assert submit(api, {"command": "", "cpu": 1}).status_code == 400

    assert submit(api).status_code == 201
    assert Task.objects.count() == 1


@pytest.mark.django_db
def test_a_key_is_new_again_after_24_hours_and_the_sweeper_forgets_it(api):
    first = submit(api)
    IdempotencyKey.objects.update(created_at=timezone.now() - TTL - timedelta(seconds=1))

    again = submit(api)

    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert IdempotencyKey.objects.count() == 1
    submit(api, key="key-2")
    IdempotencyKey.objects.filter(key="key-1").update(created_at=timezone.now() - TTL - timedelta(seconds=1))
    assert sweep_once()["forgotten_keys"] == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["key-2"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_task(operator):
    clients = [token_client(operator) for _ in range(8)]
    answers: list = [None] * len(clients)
    start = threading.Barrier(len(clients))

    def post(i: int) -> None:
        start.wait()
        try:
            answers[i] = submit(clients[i], key="race")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [a.status_code for a in answers] == [201] * len(clients), [a.content for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(1 for a in answers if a.get("Idempotent-Replayed") != "true") == 1
    assert Task.objects.count() == 1
