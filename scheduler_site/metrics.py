"""Prometheus metrics at `/metrics`.

Counters and histograms are per process (scrape every master; `sweepnodes --metrics-port` serves
the sweeper's); gauges of tasks and nodes by status are read from the database at scrape time, so
any one master reports the whole cluster (`tasks.cluster_metrics`, added through `add_collector`).
Set SCHEDULER_METRICS_TOKEN to require `Authorization: Bearer <token>` (Prometheus:
`authorization: {credentials: ...}`).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector

from scheduler_site.tokens import constant_time_equals

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

PLACEMENTS = Counter("scheduler_placements", "Tasks placed on a node (ASSIGNED).")
PLACEMENT_PASS = Histogram("scheduler_placement_pass_seconds", "Duration of a placement pass.",
                           buckets=LATENCY_BUCKETS)
PLACEMENT_DECISION = Histogram("scheduler_placement_decision_seconds", "Time to choose a node for one task.",
                               buckets=(0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05))
SUBMIT_TO_START = Histogram("scheduler_submit_to_start_seconds", "From submit to the process running on a node.",
                            buckets=LATENCY_BUCKETS)
HEARTBEATS = Counter("scheduler_heartbeats", "Heartbeats received.", ["transport"])
HEARTBEAT_GAP = Histogram("scheduler_heartbeat_gap_seconds",
                          "Time between two heartbeats of a node, as the master sees it (interval + lag).",
                          buckets=(0.25, 0.5, 1, 2, 3, 3.5, 4, 5, 7.5, 10, 20, 30, 60))
LOG_BYTES_IN = Counter("scheduler_log_bytes_in", "Log bytes received from agents and stored.")
LOG_GAPS = Counter("scheduler_log_gaps", "Places in task logs where output was lost (a chunk refused or given up).",
                   ["source"])
LOG_GAP_BYTES = Counter("scheduler_log_gap_bytes", "Bytes of task output lost in log gaps.", ["source"])
LOG_BYTES_OUT = Counter("scheduler_log_bytes_out", "Log bytes sent to WebSocket subscribers.")
WEBSOCKETS = Gauge("scheduler_websocket_connections", "Open WebSocket connections.", ["kind"])


_collector_types: list[type[Collector]] = []
_registered: set[type[Collector]] = set()


def add_collector(collector: type[Collector]) -> None:
    """A collector of figures read at scrape time (the apps add theirs when Django starts); it is
    registered on the first scrape of `/metrics`."""
    if collector not in _collector_types:
        _collector_types.append(collector)


def register_cluster_collector() -> None:
    for collector in _collector_types:
        if collector not in _registered:
            REGISTRY.register(collector())
            _registered.add(collector)


def metrics_view(request: HttpRequest) -> HttpResponse:
    expected = settings.SCHEDULER_METRICS_TOKEN
    if expected:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not constant_time_equals(given, expected):
            return HttpResponse("metrics need Authorization: Bearer <SCHEDULER_METRICS_TOKEN>\n", status=401,
                                content_type="text/plain")
    register_cluster_collector()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
