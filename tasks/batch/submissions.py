"""Several submissions in one request and one transaction (`schedctl submit -f job.yaml`): each
item a task or an array; `depends_on` may name another item by its local `name`, resolved here to
the ids just created (an array's name stands for all its elements). Items are created in the order
their local references need; a reference to an unknown or ambiguous name, or a cycle, refuses the
whole request, as does any item's error (its field named `[i].field`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.db import transaction

from scheduler_site.exceptions import DomainError
from tasks.models import Task, TaskArray

MAX_ITEMS = 1000
Created = Task | tuple[TaskArray, list[Task]]


def _order(items: Sequence[Mapping]) -> list[int]:
    """Item indices in an order where every local name comes before the items naming it."""
    by_name: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item.get("name") or ""
        if name:
            by_name.setdefault(name, i)
    duplicated = {item.get("name") for i, item in enumerate(items) if item.get("name")
                  and by_name[item["name"]] != i}
    needs: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        needs[i] = []
        for ref in item.get("depends_on") or []:
            if not isinstance(ref, str):
                continue
            if ref not in by_name:
                raise DomainError(f"No task named {ref!r} in this request.", field=f"[{i}].depends_on")
            if ref in duplicated:
                raise DomainError(f"Several tasks are named {ref!r} in this request.", field=f"[{i}].depends_on")
            needs[i].append(by_name[ref])
    order: list[int] = []
    state: dict[int, str] = {}
    for start in range(len(items)):
        stack = [(start, iter(needs[start]))]
        if start in state:
            continue
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                state[node] = "done"
                order.append(node)
            elif state.get(child) == "open":
                raise DomainError(f"{items[child].get('name')!r} depends on itself through this request's names.",
                                  field=f"[{child}].depends_on")
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(needs[child])))
    return order


@transaction.atomic
def submit_many(items: Sequence[Mapping], *, submit: Callable[..., Created], submitter=None) -> list[Created]:
    """`items`: validated submissions (their `depends_on` holds ids and local names); `submit`:
    the single submission (`tasks.services.submit`). Returns what each item created, in item order."""
    created: dict[int, Created] = {}
    ids_of_name: dict[str, list[int]] = {}
    for i in _order(items):
        item = dict(items[i])
        refs = item.get("depends_on") or []
        item["depends_on"] = [dep for ref in refs for dep in (ids_of_name[ref] if isinstance(ref, str) else [ref])]
        try:
            result = submit(**item, submitter=submitter)
        except DomainError as error:
            raise DomainError(error.message, field=f"[{i}].{error.field}" if error.field else f"[{i}]") from None
        created[i] = result
        ids = [result.pk] if isinstance(result, Task) else [task.pk for task in result[1]]
        if item.get("name"):
            ids_of_name[item["name"]] = ids
    return [created[i] for i in range(len(items))]
