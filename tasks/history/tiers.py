"""The resolutions history is kept at, and for how long: one source for the recorder, the
rollups, the pruning and the API. Per node at most 360 + 1,440 + 1,008 = 2,808 rows (a week),
so 1,000 nodes hold about 2.8 million small rows; the cluster series about 2,800."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Tier:
    step: int  # seconds per row
    keep: timedelta


TIERS = (
    Tier(step=10, keep=timedelta(hours=1)),
    Tier(step=60, keep=timedelta(days=1)),
    Tier(step=600, keep=timedelta(days=7)),
)
STEPS = tuple(t.step for t in TIERS)
FINEST = TIERS[0].step


def tier(step: int) -> Tier:
    return next(t for t in TIERS if t.step == step)


def step_for_span(span: timedelta) -> int:
    """The finest step whose rows still cover `span` back from now."""
    return next((t.step for t in TIERS if span <= t.keep), TIERS[-1].step)
