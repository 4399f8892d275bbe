"""Quotas: the most one user, or one group's members together, may hold at once (every resource of
the vector, `nodes.resources.RESOURCES`, and a count of ASSIGNED/RUNNING tasks) and keep PENDING.

Enforced in two places, each in one transaction with its quota rows locked (lock order: task rows,
then quota rows, then node rows), so two masters cannot both take the last of a limit:
- placement: the Quota hold (`hold`) keeps back the tasks that alone would take their owner over a
  limit, and `admit` refuses the planned tasks that together would; they stay PENDING with the
  reason "Quota" and a message such as "alice uses 8 of 8 cpu";
- submit: `check_submit` refuses a task over the pending limit (`QuotaExceeded`, HTTP 429).
Usage is read from the tasks themselves (the sum over the owner's ASSIGNED and RUNNING tasks): no
counter to drift. A group's quota is shared by its members; a user under both a user and a group
quota must fit both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum

from nodes.resources import RESOURCES, Resource
from scheduler_site.exceptions import QuotaExceeded
from scheduler_site.formats import plural
from scheduler_site.statuses import ACTIVE_STATUSES, TaskStatus
from tasks.models import Quota, Task

RUNNING = "running"  # the quota's count of tasks in use at once (its API and message name)
PENDING = "pending"


@dataclass
class Usage:
    """What the tasks under one quota hold now: amounts in stored units (RESOURCES order), and how
    many tasks are active / pending."""

    amounts: list[int] = field(default_factory=lambda: [0] * len(RESOURCES))
    running: int = 0
    pending: int = 0

    def add(self, task: Task) -> None:
        for i, resource in enumerate(RESOURCES):
            self.amounts[i] += getattr(task, resource.request_field)
        self.running += 1


def amount_text(resource: Resource, stored: int) -> str:
    """An amount as the API and the messages show it: '8' (cores), '4096 MiB'."""
    shown = resource.to_api(stored)
    same_unit = resource.to_api(1000) == 1000  # the API's unit is the stored one: say which
    return f"{shown:g}" + (f" {resource.unit}" if same_unit else "")


def limit_text(resource: Resource, limit: float) -> str:
    return f"{limit:g}" + (f" {resource.unit}" if resource.to_api(1000) == 1000 else "")


def _membership(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """user id -> the ids of its groups."""
    through = get_user_model().groups.through
    groups: dict[int, set[int]] = defaultdict(set)
    for user_id, group_id in through.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "group_id"):
        groups[user_id].add(group_id)
    return groups


def applicable(user_ids: Iterable[int], *, lock: bool = False) -> dict[int, list[Quota]]:
    """user id -> the quotas over it (its own, its groups'), each quota object shared between the
    users it covers; `lock` takes the quota rows FOR UPDATE in id order (inside a transaction)."""
    user_ids = {uid for uid in user_ids if uid is not None}
    if not user_ids:
        return {}
    groups = _membership(user_ids)
    all_groups = set().union(*groups.values()) if groups else set()
    query = Quota.objects.filter(Q(user_id__in=user_ids) | Q(group_id__in=all_groups)).order_by("id")
    if lock:
        query = query.select_for_update(of=("self",))
    quotas = list(query.select_related("user", "group"))
    by_user: dict[int, list[Quota]] = defaultdict(list)
    for quota in quotas:
        for user_id in user_ids:
            if quota.user_id == user_id or (quota.group_id is not None and quota.group_id in groups.get(user_id, ())):
                by_user[user_id].append(quota)
    return by_user


def usage_of(quotas: Iterable[Quota], *, pending: bool = False) -> dict[int, Usage]:
    """quota id -> what its tasks hold now (and keep pending, when asked), in a bounded number of
    queries whatever the number of quotas and users."""
    quotas = list({quota.pk: quota for quota in quotas}.values())
    if not quotas:
        return {}
    members: dict[int, set[int]] = {q.pk: {q.user_id} for q in quotas if q.user_id}
    group_ids = {q.group_id for q in quotas if q.group_id}
    if group_ids:
        through = get_user_model().groups.through
        in_group: dict[int, set[int]] = defaultdict(set)
        for user_id, group_id in through.objects.filter(group_id__in=group_ids).values_list("user_id", "group_id"):
            in_group[group_id].add(user_id)
        members.update({q.pk: in_group.get(q.group_id, set()) for q in quotas if q.group_id})
    everyone = set().union(*members.values())
    per_user: dict[int, Usage] = defaultdict(Usage)
    sums = {f"r{i}": Sum(r.request_field) for i, r in enumerate(RESOURCES)}
    rows = (Task.objects.filter(status__in=ACTIVE_STATUSES, submitter_id__in=everyone)
            .values("submitter_id").annotate(**sums, n=Count("id")))
    for row in rows:
        per_user[row["submitter_id"]] = Usage(amounts=[row[f"r{i}"] or 0 for i in range(len(RESOURCES))],
                                              running=row["n"])
    if pending:
        waiting = (Task.objects.filter(status=TaskStatus.PENDING, submitter_id__in=everyone)
                   .values("submitter_id").annotate(n=Count("id")))
        for row in waiting:
            per_user[row["submitter_id"]].pending = row["n"]
    result: dict[int, Usage] = {}
    for quota in quotas:
        total = Usage()
        for user_id in members.get(quota.pk, ()):
            mine = per_user.get(user_id)
            if mine is not None:
                total.amounts = [a + b for a, b in zip(total.amounts, mine.amounts, strict=True)]
                total.running += mine.running
                total.pending += mine.pending
        result[quota.pk] = total
    return result


def over(quota: Quota, usage: Usage, task: Task) -> str | None:
    """Why `task` would take `quota` over a limit, given `usage`; None when it fits."""
    for i, resource in enumerate(RESOURCES):
        limit = quota.limits.get(resource.request_field)
        if limit is None:
            continue
        wanted = usage.amounts[i] + getattr(task, resource.request_field)
        if resource.to_api(wanted) > limit:
            return f"{quota.holder} uses {amount_text(resource, usage.amounts[i])} of {limit_text(resource, limit)} " \
                   f"{resource.name}"
    if quota.max_running is not None and usage.running + 1 > quota.max_running:
        return f"{quota.holder} runs {usage.running} of {plural(quota.max_running, 'task')} at once"
    return None


def _walk(tasks: Sequence[Task], *, cumulative: bool) -> dict[int, str]:
    owners = {task.submitter_id for task in tasks if task.submitter_id is not None}
    if not owners or not Quota.objects.exists():
        return {}
    by_user = applicable(owners, lock=True)
    if not by_user:
        return {}
    usage = usage_of(quota for quotas in by_user.values() for quota in quotas)
    waiting: dict[int, str] = {}
    for task in tasks:
        quotas = by_user.get(task.submitter_id, ())
        reason = next((why for quota in quotas if (why := over(quota, usage[quota.pk], task))), None)
        if reason is not None:
            waiting[task.pk] = reason
        elif cumulative:
            for quota in quotas:
                usage[quota.pk].add(task)
    return waiting


def hold(tasks: Sequence[Task]) -> dict[int, str]:
    """The Quota hold: PENDING tasks that alone would take their owner (or group) over a limit."""
    return _walk(tasks, cumulative=False)


def admit(planned: Sequence[Task]) -> dict[int, str]:
    """The planned tasks (queue order) that together would take their owner over a limit."""
    return _walk(planned, cumulative=True)


def check_submit(user) -> None:
    """Refuse a submit over the pending limit of `user`'s quota or one of its groups' (429), with the
    quota rows locked so that concurrent submits are counted one after the other."""
    if user is None or user.pk is None or not Quota.objects.exists():
        return
    quotas = applicable([user.pk], lock=True).get(user.pk, [])
    limited = [quota for quota in quotas if quota.max_pending is not None]
    if not limited:
        return
    usage = usage_of(limited, pending=True)
    for quota in limited:
        if usage[quota.pk].pending >= quota.max_pending:
            raise QuotaExceeded(
                f"Quota: {quota.holder} has {usage[quota.pk].pending} of {plural(quota.max_pending, 'task')} "
                f"pending (the quota's `{PENDING}` limit); wait for some to start or cancel some.",
                field=PENDING,
            )


# -- managing quotas (API, admin) ---------------------------------------------------------------

MAX_LIMIT = 1e12


def quota_summary(quota: Quota, usage: Usage | None = None) -> dict:
    """A quota as the API shows it: its limits (API units, None = no limit) and what is used now."""
    data: dict = {"id": quota.pk, "user": quota.user.get_username() if quota.user_id else None,
                  "group": quota.group.name if quota.group_id else None, "holder": quota.holder}
    data.update({r.request_field: quota.limits.get(r.request_field) for r in RESOURCES})
    data.update({RUNNING: quota.max_running, PENDING: quota.max_pending})
    if usage is not None:
        data["used"] = {**{r.request_field: r.to_api(usage.amounts[i]) for i, r in enumerate(RESOURCES)},
                        RUNNING: usage.running, PENDING: usage.pending}
    return data


def summaries(quotas: Sequence[Quota]) -> list[dict]:
    usage = usage_of(quotas, pending=True)
    return [quota_summary(quota, usage.get(quota.pk, Usage())) for quota in quotas]


def save_quota(quota: Quota | None = None, *, user=None, group=None, values: dict) -> Quota:
    """Create a quota (for `user` or `group`) or change one; `values` holds validated limits by
    their API names (one per resource, `running`, `pending`), None meaning no limit."""
    if quota is None:
        quota = Quota(user=user, group=group)
    limits = dict(quota.limits)
    for resource in RESOURCES:
        if resource.request_field in values:
            value = values[resource.request_field]
            if value is None:
                limits.pop(resource.request_field, None)
            else:
                limits[resource.request_field] = value
    quota.limits = limits
    if RUNNING in values:
        quota.max_running = values[RUNNING]
    if PENDING in values:
        quota.max_pending = values[PENDING]
    quota.save()
    from tasks.placement.trigger import request_placement
    request_placement()  # a raised limit lets waiting tasks go
    return quota
