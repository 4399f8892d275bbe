"""Reads of the history for the API."""

from __future__ import annotations

from datetime import datetime

from tasks.history.models import ClusterSample, NodeSample


def cluster_samples(*, step: int, since: datetime, until: datetime) -> list[ClusterSample]:
    return list(ClusterSample.objects.filter(step=step, bucket__gte=since, bucket__lte=until).order_by("bucket"))


def node_samples(*, step: int, since: datetime, until: datetime, node_ids: list[int]) -> list[NodeSample]:
    return list(NodeSample.objects.filter(step=step, node_id__in=node_ids, bucket__gte=since, bucket__lte=until)
                .order_by("node_id", "bucket"))
