"""GET /api/v1/metrics/history: columns of the recorded series; 400s that name the parameter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.history.models import ClusterSample, NodeSample
from tests import builders
from tests.api.support import row_counts

pytestmark = pytest.mark.django_db


def rows(step: int, n: int, node=None):
    now = timezone.now()
    start = now - timedelta(seconds=step * n)
    for i in range(n):
        at = start + timedelta(seconds=step * i)
        ClusterSample.objects.create(step=step, bucket=at, cpu_used=500 * i, cpu_allocated=1000, cpu_capacity=4000,
                                     mem_used=100, mem_allocated=200, mem_capacity=1024, queue_depth=i, started=i,
                                     succeeded=1, failed=0, placements=2, placement_ms_sum=30, placement_ms_max=20,
                                     nodes_online=1)
        if node:
            NodeSample.objects.create(step=step, bucket=at, node=node, cpu_used=250 * i, cpu_allocated=500,
                                      cpu_capacity=2000, mem_used=10, mem_allocated=20, mem_capacity=512)


def test_the_last_hour_comes_at_ten_second_steps_as_columns_in_cores_and_mib(api):
    rows(10, 4)
    body = api.get("/api/v1/metrics/history").json()
    assert body["step"] == 10
    assert len(body["t"]) == 4 and body["t"] == sorted(body["t"])
    assert body["cpu"] == {"used": [0, 0.5, 1, 1.5], "allocated": [1] * 4, "capacity": [4] * 4}
    assert body["queue"] == {"pending": [0, 1, 2, 3]}
    assert body["tasks"]["started"] == [0, 1, 2, 3]
    assert body["placement"] == {"count": [2] * 4, "avg_ms": [15] * 4, "max_ms": [20] * 4}
    assert set(body["series"]) == {"cpu", "mem", "queue", "tasks", "placement", "nodes"}


def test_series_and_step_choose_what_comes_back(api):
    rows(60, 3)
    rows(10, 2)
    body = api.get("/api/v1/metrics/history", {"series": "queue,tasks", "since": "24h"}).json()
    assert body["step"] == 60
    assert set(body) == {"step", "since", "until", "series", "t", "queue", "tasks"}
    assert len(body["t"]) == 3
    assert api.get("/api/v1/metrics/history", {"since": "1h", "step": "1m"}).json()["step"] == 60
    assert api.get("/api/v1/metrics/history", {"since": "7d"}).json()["step"] == 600


def test_per_node_series_by_id_or_name(api):
    a, _ = builders.node("a"), builders.node("b")
    rows(10, 3, node=a)
    body = api.get("/api/v1/metrics/history", {"node": f"{a.pk},b"}).json()
    assert [n["name"] for n in body["nodes"]] == ["a", "b"]
    assert body["nodes"][0]["cpu"]["used"] == [0, 0.25, 0.5]
    assert body["nodes"][1]["t"] == []
    assert body["series"] == ["cpu", "mem"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "0h"}, "since"),
        ({"since": "1h\x00"}, "since"),
        ({"since": "2999-01-01T00:00:00Z"}, "since"),
        ({"until": "1h"}, "until"),
        ({"step": "7"}, "step"),
        ({"step": "abc"}, "step"),
        ({"series": "cpu,bogus"}, "series"),
        ({"series": ","}, "series"),
        ({"node": "nope"}, "node"),
        ({"node": "a", "series": "queue"}, "series"),
        ({"node": ",".join(str(i) for i in range(1, 300))}, "node"),
    ],
)
def test_bad_input_gets_a_400_naming_the_parameter(api, params, field):
    builders.node("a")
    before = row_counts()
    response = api.get("/api/v1/metrics/history", params)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert row_counts() == before


def test_history_needs_a_signed_in_user(anon):
    assert anon.get("/api/v1/metrics/history").status_code in (401, 403)
