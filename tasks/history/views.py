"""`GET /api/v1/metrics/history`: the cluster's (or some nodes') recorded series, as columns.

    ?series=cpu,mem,queue,tasks,placement,nodes   (default: all; with ?node=, cpu and mem)
    ?since=1h | 30m | 7d | 3600s | <ISO 8601>      (default 1h)
    ?until=<ISO 8601>                              (default now)
    ?step=10 | 60 | 600 (or 10s, 1m, 10m)          (default: the finest tier that covers since)
    ?node=<id or name>[,...]                       (at most 200: per-node cpu and mem instead)

Bad input is a 400 that names the parameter.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nodes.models import Node
from scheduler_site.exceptions import DomainError
from scheduler_site.formats import iso, parse_id
from scheduler_site.permissions import IsUser
from tasks.history import selectors
from tasks.history.series import CLUSTER_SERIES, NODE_SERIES, cluster_point, columns, node_point
from tasks.history.tiers import STEPS, step_for_span

MAX_NODES = 200
DURATION = re.compile(r"^(\d{1,7})([smhd]?)$")
UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class BadHistoryQuery(DomainError):
    pass


def parse_duration(raw: str, *, field: str) -> timedelta | None:
    m = DURATION.fullmatch(raw.strip().lower())
    if not m:
        return None
    seconds = int(m.group(1)) * UNIT[m.group(2)]
    if seconds <= 0:
        raise BadHistoryQuery("Must be a positive duration, such as 1h, 24h or 7d.", field=field)
    return timedelta(seconds=seconds)


def parse_time(raw: str, *, field: str, now: datetime) -> datetime:
    """A duration back from now (since only) or an ISO 8601 time."""
    if "\x00" in raw:
        raise BadHistoryQuery("Must not contain NUL bytes.", field=field)
    if field == "since" and (span := parse_duration(raw, field=field)) is not None:
        return now - span
    try:
        when = parse_datetime(raw.strip())
    except ValueError:
        when = None
    if when is None:
        hint = "a duration such as 1h, 24h or 7d, or " if field == "since" else ""
        raise BadHistoryQuery(f"Must be {hint}an ISO 8601 time such as 2026-01-31T12:00:00Z.", field=field)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_step(raw: str | None, *, span: timedelta) -> int:
    if raw is None or raw == "":
        return step_for_span(span)
    duration = parse_duration(raw, field="step") if "\x00" not in raw else None
    step = int(duration.total_seconds()) if duration else None
    if step not in STEPS:
        raise BadHistoryQuery(f"Must be one of {', '.join(f'{s}' for s in STEPS)} (seconds).", field="step")
    return step


def parse_series(raw: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not raw:
        return allowed
    wanted = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [name for name in wanted if name not in allowed]
    if unknown or not wanted:
        raise BadHistoryQuery(
            f"Unknown series {', '.join(unknown) or repr(raw)}; use {', '.join(allowed)}.", field="series"
        )
    return wanted


def parse_nodes(raw: str) -> list[Node]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts or any("\x00" in p for p in parts):
        raise BadHistoryQuery("Must be node ids or names, separated by commas.", field="node")
    if len(parts) > MAX_NODES:
        raise BadHistoryQuery(f"At most {MAX_NODES} nodes at a time.", field="node")
    ids = {pid for p in parts if (pid := parse_id(p)) is not None}
    names = {p for p in parts if parse_id(p) is None}
    found = list(Node.objects.filter(pk__in=ids)) + list(Node.objects.filter(name__in=names))
    missing = (ids - {n.pk for n in found}) | (names - {n.name for n in found})
    if missing:
        raise BadHistoryQuery(f"Unknown node {', '.join(sorted(map(str, missing)))}.", field="node")
    return sorted({n.pk: n for n in found}.values(), key=lambda n: n.name)


class HistoryView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("series", str, description="comma-separated: " + ", ".join(CLUSTER_SERIES)),
            OpenApiParameter("since", str, description="a duration back from now (1h, 24h, 7d) or an ISO time"),
            OpenApiParameter("until", str, description="ISO time (default now)"),
            OpenApiParameter("step", str, description="seconds per point: 10, 60 or 600"),
            OpenApiParameter("node", str, description=f"node ids or names (at most {MAX_NODES}): per-node series"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        q = request.query_params
        now = timezone.now()
        since = parse_time(q.get("since") or "1h", field="since", now=now)
        until = parse_time(q["until"], field="until", now=now) if q.get("until") else now
        if since > until:
            raise BadHistoryQuery("Must be before until (and not in the future).", field="since")
        step = parse_step(q.get("step"), span=now - since)
        body: dict = {"step": step, "since": iso(since), "until": iso(until)}
        if q.get("node"):
            series = parse_series(q.get("series"), NODE_SERIES)
            nodes = parse_nodes(q["node"])
            samples = selectors.node_samples(step=step, since=since, until=until, node_ids=[n.pk for n in nodes])
            points: dict[int, list[dict]] = {n.pk: [] for n in nodes}
            for s in samples:
                points[s.node_id].append(node_point(s))
            body["nodes"] = [{"id": n.pk, "name": n.name, **columns(points[n.pk], series)} for n in nodes]
        else:
            series = parse_series(q.get("series"), CLUSTER_SERIES)
            samples = selectors.cluster_samples(step=step, since=since, until=until)
            body.update(columns([cluster_point(s) for s in samples], series))
        body["series"] = list(series)
        return Response(body)
