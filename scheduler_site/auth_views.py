"""Sign-in endpoints: API tokens for scripts and the CLI, session login for the dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from scheduler_site.models import ApiToken
from scheduler_site.permissions import is_person


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class LoginThrottle(AnonRateThrottle):
    rate = "30/min"


def _credentials_user(request: Request):
    form = CredentialsSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    user = authenticate(request._request, **form.validated_data)
    if user is None or not user.is_active:
        raise serializers.ValidationError({"non_field_errors": ["Wrong username or password."]})
    return user


SIGNED_OUT = {"authenticated": False, "detail": "Not signed in."}


def who_is_signed_in(user: Any) -> dict:
    """What the dashboard knows of the signed-in user (`SIGNED_OUT` for anyone else): the answer
    of `GET /auth/me`, also embedded in the dashboard's page so it starts without asking."""
    if not is_person(user):
        return dict(SIGNED_OUT)
    return {
        "authenticated": True,
        "username": user.get_username(),
        "is_staff": user.is_staff,
        "permissions": {
            "submit": user.has_perm("tasks.add_task"),
            # cancel: own tasks (tasks.add_task) or anyone's (tasks.cancel_any_task); see tasks.access
            "cancel": user.has_perm("tasks.add_task") or user.has_perm("tasks.cancel_any_task"),
            "cancel_any": user.has_perm("tasks.cancel_any_task"),
            "view_any": user.is_staff or user.has_perm("tasks.view_any_task"),
            "drain": user.has_perm("nodes.change_node"),
        },
    }


class TokenView(APIView):
    """POST username and password, get a new API token (shown once; stored hashed)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(request=CredentialsSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        user = _credentials_user(request)
        _, token = ApiToken.issue(user=user, name="api")
        return Response({"token": token}, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    """Session login for the dashboard (CSRF-protected like any session POST)."""

    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(request=CredentialsSerializer, responses=dict)
    def post(self, request: Request) -> Response:
        SessionAuthentication().enforce_csrf(request)  # no login CSRF
        user = _credentials_user(request)
        login(request._request, user)
        return Response(who_is_signed_in(user))


class LogoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who is signed in (`authenticated` false when nobody is: a normal answer, not an error, so a
    signed-out browser logs nothing); also sets the CSRF cookie the dashboard needs for its first POST."""

    permission_classes = [AllowAny]

    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        get_token(request._request)
        return Response(who_is_signed_in(request.user))
