"""Permission classes: users need model permissions to change things; nodes act only for themselves."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from scheduler_site.authentication import Joiner, NodePrincipal


def requires(perm: str) -> type[BasePermission]:
    """A permission class requiring a logged-in user with the Django permission `perm`."""

    class HasPerm(BasePermission):
        message = f"You need the '{perm}' permission."

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and not isinstance(user, NodePrincipal)
                        and user.has_perm(perm))

    HasPerm.__name__ = f"Requires_{perm.replace('.', '_')}"
    return HasPerm


def is_person(user: Any) -> bool:
    """A signed-in user (session or API token), not a node's or a joining agent's credential."""
    return bool(user and user.is_authenticated and not isinstance(user, NodePrincipal | Joiner))


class IsUser(BasePermission):
    def has_permission(self, request, view) -> bool:
        return is_person(request.user)


class IsSameNode(BasePermission):
    """An internal endpoint for node {pk}: only that node's token may call it."""

    message = "A node token can act only for its own node."

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, NodePrincipal):
            return False
        return str(principal.node.pk) == str(view.kwargs.get("pk"))


class IsJoiner(BasePermission):
    message = "Registration needs the cluster join token."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Joiner)
