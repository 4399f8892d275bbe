"""Who may see and do what to a task: the ONE permission function every path asks (REST detail,
logs over REST, raw download and WebSocket, cancel, rerun, requeue, the admin, and the CLI through
the API).

- Metadata (id, name, command, status, node, resources, owner, events) is visible to everyone
  signed in, like `squeue`.
- Private parts (env values, the command's output) are visible to the task's owner and to
  operators: staff, or users holding `tasks.view_any_task`.
- Acting on a task (cancel, rerun, requeue, edit) needs its owner holding `tasks.add_task`, or an
  operator holding `tasks.cancel_any_task`.
A task without an owner (its submitter was deleted, or it was made outside the API) is private to
operators.
"""

from __future__ import annotations

from typing import Any

from scheduler_site.exceptions import Forbidden
from scheduler_site.permissions import is_person

VIEW_ANY = "tasks.view_any_task"
ACT_ANY = "tasks.cancel_any_task"
SUBMIT = "tasks.add_task"
MASK = "********"


def owns(user: Any, task: Any) -> bool:
    return is_person(user) and task.submitter_id is not None and task.submitter_id == user.pk


def sees_everything(user: Any) -> bool:
    """An operator for reading: staff, or the `tasks.view_any_task` permission."""
    return is_person(user) and (user.is_staff or user.has_perm(VIEW_ANY))


def acts_on_anything(user: Any) -> bool:
    """An operator for acting on other users' tasks: the `tasks.cancel_any_task` permission."""
    return is_person(user) and user.has_perm(ACT_ANY)


def can_see_private(user: Any, task: Any) -> bool:
    """May `user` read `task`'s env values and output?"""
    return owns(user, task) or sees_everything(user)


def can_act_on(user: Any, task: Any) -> bool:
    """May `user` cancel, rerun, requeue or edit `task`?"""
    return (owns(user, task) and user.has_perm(SUBMIT)) or acts_on_anything(user)


def masked_env(env: dict[str, str]) -> dict[str, str]:
    """The env as others see it: the keys, every value masked."""
    return {key: MASK for key in env}


def check_private(user: Any, task: Any) -> None:
    """Raise `Forbidden` (403) unless `user` may read `task`'s env values and output."""
    if not can_see_private(user, task):
        raise Forbidden(f"Only the owner of task {task.pk} and operators (staff, or the 'tasks.view_any_task' "
                        "permission) may see its env values and output.")


def check_act(user: Any, task: Any) -> None:
    """Raise `Forbidden` (403) unless `user` may cancel, rerun, requeue or edit `task`."""
    if not can_act_on(user, task):
        raise Forbidden(f"You need to own task {task.pk} (with the 'tasks.add_task' permission) or hold the "
                        "'tasks.cancel_any_task' permission.")
