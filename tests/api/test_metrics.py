"""Prometheus metrics: cluster gauges from the database, counters from this process."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from tasks.placement.reservation import place_pending_tasks
from tests import builders

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", text, re.M)
    assert match, f"{name}{labels} not in the metrics"
    return float(match.group(1))


def test_metrics_show_tasks_and_nodes_by_status_and_count_heartbeats():
    node, token = builders.node_with_token("n1", cpu=1)
    builders.task("true", cpu=1)
    builders.task("true", cpu=1)
    place_pending_tasks()
    client = APIClient()
    before = client.get("/metrics").content.decode()
    beats_before = sample(before, "scheduler_heartbeats_total", '{transport="http"}') if "transport=\"http\"" in \
        before else 0.0
    heartbeat = APIClient()
    heartbeat.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert heartbeat.post(f"/api/v1/internal/nodes/{node.pk}/heartbeat", {}, format="json").status_code == 200
    text = client.get("/metrics").content.decode()
    assert sample(text, "scheduler_tasks", '{status="ASSIGNED"}') == 1
    assert sample(text, "scheduler_tasks", '{status="PENDING"}') == 1
    assert sample(text, "scheduler_queue_depth") == 1
    assert sample(text, "scheduler_nodes", '{status="ONLINE"}') == 1
    assert sample(text, "scheduler_heartbeats_total", '{transport="http"}') == beats_before + 1
    assert sample(text, "scheduler_placements_total") >= 1
    assert sample(text, "scheduler_placement_pass_seconds_count") >= 1


def test_metrics_token_is_required_when_set(settings):
    settings.SCHEDULER_METRICS_TOKEN = "scrape-secret"
    client = APIClient()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
