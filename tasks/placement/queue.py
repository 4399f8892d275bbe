"""Which pending task goes next: one ordering, used by every placement pass on every store.
Priority first (higher first), then fair-share keys (pluggable: none yet; e.g. the owner's decayed
recent usage, lower first), then age (lower id first). `claim` takes the next batch in that order
from a cursor (keyset pagination), locking the rows where the store can skip locked ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Expression, Q, QuerySet

from scheduler_site.statuses import TaskStatus
from tasks.models import Task


@dataclass(frozen=True)
class Key:
    name: str  # a Task field, or the alias of `expression`
    descending: bool = False
    expression: Expression | None = None  # annotated as `name` when set


PRIORITY = Key("priority", descending=True)
AGE = Key("id")
FAIR_SHARE: list[Key] = []  # pluggable: ranks tasks of one priority before age

# Pluggable: tasks a hold would only keep back again, with the reason they already carry, so a
# pass need not load them (an array's elements beyond its free slots). Each returns a Q of tasks to
# leave out of the claim, or None. Only a shortcut: the holds still decide for what is loaded.
SKIP: list[Callable[[], Q | None]] = []


def keys() -> list[Key]:
    return [PRIORITY, *FAIR_SHARE, AGE]


def pending() -> QuerySet[Task]:
    """PENDING tasks in queue order."""
    query = Task.objects.filter(status=TaskStatus.PENDING)
    order = keys()
    extra = {key.name: key.expression for key in order if key.expression is not None}
    if extra:
        query = query.annotate(**extra)
    return query.order_by(*(("-" if key.descending else "") + key.name for key in order))


Cursor = tuple  # the values of `keys()` of the last task taken


def cursor_of(task: Task) -> Cursor:
    return tuple(getattr(task, key.name) for key in keys())


def after(cursor: Cursor) -> Q:
    """Tasks that come after `cursor` in queue order (lexicographic over the keys)."""
    order = keys()
    terms = []
    for i, key in enumerate(order):
        equal = {k.name: value for k, value in zip(order[:i], cursor[:i], strict=True)}
        terms.append(Q(**equal, **{f"{key.name}__{'lt' if key.descending else 'gt'}": cursor[i]}))
    return reduce(or_, terms)


def _skipped(query: QuerySet[Task]) -> QuerySet[Task]:
    for skip in SKIP:
        condition = skip()
        if condition is not None:
            query = query.exclude(condition)
    return query


def claim(batch_size: int, cursor: Cursor | None) -> tuple[list[Task], int]:
    """The next `batch_size` PENDING tasks after `cursor`, locked (FOR UPDATE SKIP LOCKED where the
    store has it, so several schedulers take disjoint tasks; SQLite serializes writers instead).
    Returns them and how many visible ones another transaction held (to retry soon)."""
    query = _skipped(pending())
    if cursor is not None:
        query = query.filter(after(cursor))
    if not connection.features.has_select_for_update_skip_locked:
        return list(query[:batch_size]), 0
    claimed = list(query.select_for_update(skip_locked=True, of=("self",))[:batch_size])
    # A task row locked by another transaction (an agent's report on it, a cancel) is skipped,
    # not waited for; nothing else would bring this pass back to it, so count it for a retry.
    visible = set(query.values_list("id", flat=True)[:batch_size])
    return claimed, len(visible - {task.pk for task in claimed})
