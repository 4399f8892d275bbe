"""`Idempotency-Key` on create requests: a retry with the same key, by the same user, within
24 hours, gets the first answer (same status, same body) and creates nothing.

Any create endpoint uses it the same way (`run_once(scope=..., perform=...)`): the task submit
today, a batch submit (a JSON array body) tomorrow; `scope` keeps their keys apart.

How it holds under crashes and races: the key's row is inserted first, in the transaction that
performs the request, and the answer is written into it before that transaction commits.
- The master dies before the commit: nothing was created and no key is stored; the retry performs.
- The master dies after the commit (the answer lost on the way): the retry finds the row and
  replays the answer.
- Two requests with one key at once: the unique constraint lets one insert; the other's insert
  waits for that transaction (PostgreSQL's unique index; SQLite's write lock, taken at BEGIN) and
  then replays its answer, or performs if it rolled back.
- The same key with a different body: 422 (`idempotency_key_reused`), as Stripe answers; a body
  that fails validation stores nothing, so the key stays free.
The sweeper deletes keys older than `TTL` (`forget_expired`); an expired key not yet swept is
treated as new.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from scheduler_site.exceptions import DomainError
from scheduler_site.models import IdempotencyKey

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEY_TEXT = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")  # printable ASCII, no edge spaces


class IdempotencyKeyReused(DomainError):
    """The key was used, within its 24 hours, for a request with a different body."""

    status_code = 422
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool = False


def read_key(headers: Any) -> str | None:
    """The request's key, or None without one; a malformed key is a 400 naming the header."""
    raw = headers.get(HEADER)
    if raw is None:
        return None
    if len(raw) > MAX_KEY_LENGTH or not KEY_TEXT.fullmatch(raw):
        raise DomainError(f"1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID is a good key).", field=HEADER)
    return raw


def fingerprint(body: Any) -> str:
    """The same for the same JSON body however its keys are ordered or spaced."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_once(*, user: Any, scope: str, key: str | None, body: Any,
             perform: Callable[[], tuple[int, Any]]) -> Answer:
    """`perform()` (which returns the status and JSON body to answer) once per (user, scope, key);
    without a key, every time. Runs `perform` inside the transaction that stores its answer."""
    if key is None:
        status, answer = perform()
        return Answer(status, answer)
    digest = fingerprint(body)
    now = timezone.now()
    with transaction.atomic():
        IdempotencyKey.objects.filter(user=user, scope=scope, key=key, created_at__lt=now - TTL).delete()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(user=user, scope=scope, key=key, fingerprint=digest,
                                                    created_at=now)
        except IntegrityError:
            first = IdempotencyKey.objects.get(user=user, scope=scope, key=key)
            if first.fingerprint != digest:
                raise IdempotencyKeyReused(
                    f"This {HEADER} was used for a different request in the last {TTL.total_seconds() / 3600:g} "
                    "hours; use a new key for a new request.", field=HEADER) from None
            return Answer(first.status_code, first.body, replayed=True)
        status, answer = perform()
        answer = json.loads(json.dumps(answer, cls=JSONEncoder))  # what is stored is what is answered
        row.status_code, row.body = status, answer
        row.save(update_fields=["status_code", "body"])
    return Answer(status, answer)


def forget_expired(now: datetime | None = None) -> int:
    """Delete the keys older than TTL (the sweeper calls this each pass); returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=(now or timezone.now()) - TTL).delete()
    return deleted
