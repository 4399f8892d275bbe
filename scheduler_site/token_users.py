"""Who a user API token belongs to, checked against the database on every request in one plain
SQL statement, with the user object remembered between requests.

Building the token-and-user query through the ORM cost a user's API request about a millisecond
of CPU (more than the rest of a small request). Here each request still reads the token's row
(its digest, compared in constant time with the hash of the secret presented) and the user's
`is_active`, `is_staff` and `is_superuser`: a revoked (deleted) token, a deactivated user or a
changed role is refused or seen on the very next request, by every master. What is remembered is
only the User object for a token id (at most MAX_ENTRIES of them, each for at most TTL seconds,
dropped at once when its token is deleted in this process); each request gets its own copy
without any permission cache, so permissions are read fresh as before.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from scheduler_site import tokens
from scheduler_site.models import ApiToken

MAX_ENTRIES = 1024
TTL = 60.0  # seconds a remembered user object is reused (its name and e-mail may be that old)
TOUCH_EVERY = 60.0  # seconds between writes of a token's last_used_at (per process)
PERMISSION_CACHES = ("_perm_cache", "_user_perm_cache", "_group_perm_cache")


@dataclass
class _Entry:
    user: object
    flags: tuple
    remembered_at: float
    touched_at: float


_entries: OrderedDict[str, _Entry] = OrderedDict()
_lock = threading.Lock()
_sql: str | None = None


def _lookup_sql() -> str:
    global _sql
    if _sql is None:
        user_model = get_user_model()
        qn = connection.ops.quote_name
        token_table, user_table = qn(ApiToken._meta.db_table), qn(user_model._meta.db_table)
        user_id = qn(ApiToken._meta.get_field("user").column)
        columns = ", ".join(f"u.{qn(user_model._meta.get_field(name).column)}"
                            for name in ("id", "is_active", "is_staff", "is_superuser"))
        _sql = (f"SELECT t.{qn('id')}, t.{qn('digest')}, {columns} FROM {token_table} t "
                f"JOIN {user_table} u ON u.{qn(user_model._meta.pk.column)} = t.{user_id} "
                f"WHERE t.{qn('key_id')} = %s")
    return _sql


def forget(key_id: str | None = None) -> None:
    """Drop the remembered user of one token id (or of every token)."""
    with _lock:
        if key_id is None:
            _entries.clear()
        else:
            _entries.pop(key_id, None)


def _remembered(key_id: str, flags: tuple, now: float) -> _Entry | None:
    with _lock:
        entry = _entries.get(key_id)
        if entry is None:
            return None
        if entry.flags != flags or now - entry.remembered_at > TTL:
            del _entries[key_id]
            return None
        _entries.move_to_end(key_id)
        return entry


def _remember(key_id: str, entry: _Entry) -> None:
    with _lock:
        _entries[key_id] = entry
        _entries.move_to_end(key_id)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def _fresh_copy(user):
    user = copy.copy(user)
    for name in PERMISSION_CACHES:
        user.__dict__.pop(name, None)
    return user


def user_for(key_id: str, secret: str):
    """The active user whose token `key_id` has `secret`, or None."""
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    token_pk, digest, user_pk, is_active, is_staff, is_superuser = row
    if not tokens.secret_matches(secret, digest) or not is_active:
        return None
    now = time.monotonic()
    flags = (token_pk, user_pk, bool(is_active), bool(is_staff), bool(is_superuser))
    entry = _remembered(key_id, flags, now)
    if entry is None:
        token = ApiToken.objects.select_related("user").filter(pk=token_pk, key_id=key_id).first()
        if token is None or token.user_id != user_pk:
            return None
        user = token.user
        fresh = (token.pk, user.pk, bool(user.is_active), bool(user.is_staff), bool(user.is_superuser))
        if fresh != flags or not user.is_active:
            return None  # changed between the two reads: refuse this once, the next request decides
        stale = token.last_used_at is None or (timezone.now() - token.last_used_at).total_seconds() > TOUCH_EVERY
        entry = _Entry(user=user, flags=flags, remembered_at=now, touched_at=-TOUCH_EVERY if stale else now)
        _remember(key_id, entry)
    if now - entry.touched_at > TOUCH_EVERY:
        entry.touched_at = now
        ApiToken.objects.filter(pk=token_pk).update(last_used_at=timezone.now())
    return _fresh_copy(entry.user)


def _token_deleted(sender, instance: ApiToken, **kwargs) -> None:
    forget(instance.key_id)


def _user_saved(sender, instance, **kwargs) -> None:
    forget()  # rare (logins, admin edits): start over rather than index tokens by user


post_delete.connect(_token_deleted, sender=ApiToken, dispatch_uid="token_users.token_deleted")
post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="token_users.user_saved")
