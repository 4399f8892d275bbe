"""Who is calling: users (session or `Authorization: Token msu_...`), agents (`Token msn_...`, only
on the internal endpoints), and agents joining (`Token <join token>`, only on register)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from rest_framework import authentication, exceptions

from scheduler_site import token_users, tokens

KEY_ID = re.compile(r"[0-9a-f]{1,16}")  # ApiToken.key_id: hex, at most 16 characters


def bearer(request) -> str | None:
    """The token of an `Authorization: Token <value>` header, or None when there is no such header."""
    header = authentication.get_authorization_header(request).decode("latin-1").split()
    if not header or header[0].lower() != "token":
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <token>'.")
    return header[1]


def user_for_token(raw: str):
    """The active user a user API token belongs to, or None."""
    parsed = tokens.parse_token(raw, tokens.USER_PREFIX)
    if parsed is None or not KEY_ID.fullmatch(parsed.ident):
        return None  # also keeps NUL and other junk out of the query (PostgreSQL refuses NUL)
    return token_users.user_for(parsed.ident, parsed.secret)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        raw = bearer(request)
        if raw is None:
            return None
        user = user_for_token(raw)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return user, raw

    def authenticate_header(self, request) -> str:
        return self.keyword


@dataclass(frozen=True)
class NodePrincipal:
    """Stands in for request.user on internal endpoints: a node, never a person."""

    node: object
    is_authenticated: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    def has_perm(self, perm: str, obj=None) -> bool:
        return False


_node_lookup: Callable[[str], object | None] | None = None


def set_node_lookup(lookup: Callable[[str], object | None]) -> None:
    """`nodes` tells the plumbing how to find the node a token belongs to (at start-up)."""
    global _node_lookup
    _node_lookup = lookup


def node_for_token(raw: str) -> object | None:
    """The node a node token belongs to, or None."""
    return _node_lookup(raw) if _node_lookup is not None else None


class NodeTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = bearer(request)
        if raw is None:
            return None
        node = node_for_token(raw)
        if node is None:
            raise exceptions.AuthenticationFailed("Invalid node token.")
        return NodePrincipal(node=node), raw

    def authenticate_header(self, request) -> str:
        return "Token"


@dataclass(frozen=True)
class Joiner:
    is_authenticated: bool = True


class JoinTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = bearer(request)
        if raw is None:
            return None
        if not tokens.constant_time_equals(raw, settings.SCHEDULER_JOIN_TOKEN):
            raise exceptions.AuthenticationFailed("Invalid join token.")
        return Joiner(), None

    def authenticate_header(self, request) -> str:
        return "Token"
