"""User API tokens, stored as digests: the clear token is shown once, at creation."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from scheduler_site import tokens


class ApiToken(models.Model):
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{tokens.USER_PREFIX}_{self.key_id}_… ({self.user})"

    @classmethod
    def issue(cls, *, user, name: str = "") -> tuple[ApiToken, str]:
        """Create a token for `user`; returns the row and the clear token (never stored)."""
        secret = tokens.new_secret()
        row = cls.objects.create(
            key_id=secrets.token_hex(6), digest=tokens.hash_secret(secret), user=user, name=name
        )
        return row, tokens.make_token(tokens.USER_PREFIX, row.key_id, secret)


class IdempotencyKey(models.Model):
    """The first answer to a create request that carried an `Idempotency-Key` (scheduler_site.idempotency).

    Written in the same transaction as what the request created, so the answer is stored exactly
    when the creation is: a retry after a lost answer finds it, a retry after a rollback does not."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=100)  # which operation: "POST /api/v1/tasks"
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of the request body, canonical JSON
    status_code = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotencykey_user_scope_key"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key!r} ({self.user_id})"
