"""WebSocket authentication: `Authorization: Token ...` (user or node token), else the Django
session cookie, accepted only from a same-site Origin (no cross-site WebSocket hijacking).
Consumers refuse the connection when `scope["user"]` / `scope["node"]` is not what they need.
"""

from __future__ import annotations

from urllib.parse import urlparse

from channels.auth import AuthMiddlewareStack
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from scheduler_site import tokens
from scheduler_site.authentication import node_for_token, user_for_token
from scheduler_site.dbthreads import db_call


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _token(scope: dict) -> str | None:
    header = _header(scope, b"authorization")
    if not header:
        return None
    parts = header.split()
    return parts[1] if len(parts) == 2 and parts[0].lower() == "token" else ""


def _same_site_origin(scope: dict) -> bool:
    origin = _header(scope, b"origin")
    if not origin:
        return False
    host = urlparse(origin).hostname or ""
    return validate_host(host, settings.ALLOWED_HOSTS)


@db_call
def _node(raw: str):
    return node_for_token(raw)


@db_call
def _user(raw: str):
    return user_for_token(raw) or AnonymousUser()


class _TokenOrSession:
    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        raw = _token(scope)
        scope["node"] = None
        if raw is not None:
            if raw.startswith(tokens.NODE_PREFIX + "_"):
                scope["node"] = await _node(raw)
                scope["user"] = AnonymousUser()
            else:
                scope["user"] = await _user(raw)
        elif not _same_site_origin(scope):
            scope["user"] = AnonymousUser()
        return await self.inner(scope, receive, send)


def WebSocketAuth(inner):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(_TokenOrSession(inner))


class NodeTokenAuth:
    """The agents' socket: a node token in `Authorization`, nothing else (no session, no cookie
    parsing per message): `scope["node"]` is the node, or None and the consumer refuses."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        raw = _token(scope)
        node = await _node(raw) if raw and raw.startswith(tokens.NODE_PREFIX + "_") else None
        return await self.inner({**scope, "node": node, "user": AnonymousUser()}, receive, send)
