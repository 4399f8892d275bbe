"""One sweep pass, as `manage.py sweepnodes` runs it: silent nodes become UNHEALTHY, then
OFFLINE with their tasks requeued; then a placement pass, the safety net for anything a lost
nudge or a crashed master left pending; then history samples, and Idempotency-Keys past their
24 hours are forgotten."""

from __future__ import annotations

from datetime import datetime

from nodes.health import mark_unhealthy, stale_node_ids
from scheduler_site.idempotency import forget_expired
from tasks.history.recorder import record_history
from tasks.placement.reservation import place_pending_tasks
from tasks.recovery import take_node_offline


def sweep_once(*, now: datetime | None = None) -> dict[str, int]:
    unhealthy = mark_unhealthy(now)
    requeued = sum(len(take_node_offline(node_id, now=now)) for node_id in stale_node_ids(now))
    placed = place_pending_tasks().placed
    sampled = record_history(now=now)
    forgotten = forget_expired(now)
    return {"unhealthy": len(unhealthy), "requeued": requeued, "placed": placed, "sampled": int(sampled),
            "forgotten_keys": forgotten}
