"""`/api/v1/`: the entry point of the browsable API, linking to every collection."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from scheduler_site.permissions import IsUser


class ApiRootView(APIView):
    permission_classes = [IsUser]

    @extend_schema(responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}})
    def get(self, request: Request) -> Response:
        return Response({
            "tasks": reverse("task-list", request=request),
            "nodes": reverse("node-list", request=request),
            "auth_token": reverse("auth-token", request=request),
            "schema": reverse("schema", request=request),
            "docs": reverse("docs", request=request),
        })
