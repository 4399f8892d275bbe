"""Dependencies between tasks (Slurm's afterok, afterany, afternotok). Placeholder filled in step 2."""

from __future__ import annotations

from collections.abc import Sequence

from tasks.models import Task


def waiting(tasks: Sequence[Task]) -> dict[int, str]:
    return {}
