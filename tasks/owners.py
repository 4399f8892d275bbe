"""The usernames of task owners, for the summaries the API and the live streams publish by the
thousand: remembered per process (user id -> username) so a placement batch does not read the
user table once per task; forgotten when any user is saved or deleted (rare)."""

from __future__ import annotations

import threading

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

_names: dict[int, str] = {}
_lock = threading.Lock()
MAX_NAMES = 10_000


def owner_name(task) -> str | None:
    """The username of `task`'s submitter, or None when it has none."""
    user_id = task.submitter_id
    if user_id is None:
        return None
    cached = task._state.fields_cache.get("submitter")
    if cached is not None:
        return cached.get_username()
    name = _names.get(user_id)
    if name is None:
        user = get_user_model().objects.filter(pk=user_id).only("username").first()
        name = user.get_username() if user else ""
        with _lock:
            if len(_names) >= MAX_NAMES:
                _names.clear()
            _names[user_id] = name
    return name or None


def names_of(user_ids: set[int]) -> dict[int, str]:
    """Usernames of several users in one query (the ones not remembered yet)."""
    missing = [uid for uid in user_ids if uid not in _names]
    if missing:
        rows = get_user_model().objects.filter(pk__in=missing).values_list("pk", "username")
        with _lock:
            _names.update(dict(rows))
    return {uid: _names[uid] for uid in user_ids if uid in _names}


def forget(*args, **kwargs) -> None:
    with _lock:
        _names.clear()


post_save.connect(forget, sender=get_user_model(), dispatch_uid="tasks.owners.saved")
post_delete.connect(forget, sender=get_user_model(), dispatch_uid="tasks.owners.deleted")
