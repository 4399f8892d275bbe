"""History for the event feed (one master with the in-memory channel layer): the sweeper records
buckets in another process, whose publishes cannot reach this master's sockets; the feed asks
here for the buckets recorded since the last it relayed, as the messages the sweeper would send."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from tasks.history.models import ClusterSample, NodeSample
from tasks.history.recorder import live_message
from tasks.history.tiers import FINEST


def newest_bucket() -> datetime | None:
    return ClusterSample.objects.filter(step=FINEST).aggregate(m=Max("bucket"))["m"]


def messages_since(bucket: datetime | None) -> tuple[list[dict], datetime | None]:
    """Live messages for the finest buckets after `bucket` (at most a few), and the newest one."""
    samples = list(ClusterSample.objects.filter(step=FINEST, bucket__gt=bucket).order_by("bucket")[:6]) if bucket \
        else []
    out = []
    for sample in samples:
        nodes = list(NodeSample.objects.filter(step=FINEST, bucket=sample.bucket))
        out.append(live_message(sample, nodes))
    return out, (samples[-1].bucket if samples else bucket)
