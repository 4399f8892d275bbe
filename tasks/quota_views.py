"""Quota endpoints of API v1: everyone signed in reads quotas and what they use (metadata, like
`sshare`); operators with the model permissions create, change and delete them. Rules live in
`tasks.quotas`; this module translates HTTP."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nodes.resources import RESOURCES
from scheduler_site.exceptions import DomainError, NotFound
from scheduler_site.formats import parse_id
from scheduler_site.permissions import IsUser, requires
from tasks import fairshare, quotas
from tasks.models import Quota
from tasks.serializers import RejectUnknownFieldsMixin, StrictFloatField, StrictStringField


class QuotaSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A quota: `user` or `group` (by name), then its limits, each optional (null = no limit):
    one per resource of the vector in the API's unit (cpu in cores, mem in MiB), `running` (tasks
    in use at once) and `pending` (tasks waiting at once)."""

    user = StrictStringField(required=False, max_length=150)
    group = StrictStringField(required=False, max_length=150)
    running = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10**9)
    pending = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10**9)

    def get_fields(self):
        fields = super().get_fields()
        for resource in RESOURCES:
            fields[resource.request_field] = StrictFloatField(
                required=False, allow_null=True, min_value=0, max_value=quotas.MAX_LIMIT,
                help_text=f"the most {resource.name} in use at once (null: no limit)")
        return fields

    def validate_user(self, value: str):
        user = get_user_model().objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(f"Unknown user {value!r}.")
        return user

    def validate_group(self, value: str):
        group = Group.objects.filter(name=value).first()
        if group is None:
            raise serializers.ValidationError(f"Unknown group {value!r}.")
        return group

    def validate(self, attrs: dict) -> dict:
        creating = self.instance is None
        if creating and ("user" in attrs) == ("group" in attrs):
            raise serializers.ValidationError({"user": ["Give exactly one of `user` or `group`."]})
        if not creating and ("user" in attrs or "group" in attrs):
            field = "user" if "user" in attrs else "group"
            raise serializers.ValidationError({field: ["A quota's holder cannot change; delete it and create "
                                                       "another."]})
        return attrs


def _get(pk: str) -> Quota:
    quota_id = parse_id(pk)
    quota = Quota.objects.select_related("user", "group").filter(pk=quota_id).first() if quota_id else None
    if quota is None:
        raise NotFound(f"Quota {pk!r} not found.")
    return quota


def _values(data: dict) -> dict:
    return {key: value for key, value in data.items() if key not in ("user", "group")}


class QuotaListView(APIView):
    def get_permissions(self):
        if self.request.method == "POST":
            return [requires("tasks.add_quota")()]
        return [IsUser()]

    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        rows = list(Quota.objects.select_related("user", "group").order_by("id"))
        return Response({"results": quotas.summaries(rows)})

    @extend_schema(request=QuotaSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = QuotaSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            with transaction.atomic():
                quota = quotas.save_quota(user=values.get("user"), group=values.get("group"), values=_values(values))
        except IntegrityError:
            field = "user" if values.get("user") else "group"
            raise DomainError(f"This {field} has a quota already; change that one.", field=field) from None
        return Response(quotas.summaries([quota])[0], status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/v1/quotas/{quota.pk}"})


class QuotaDetailView(APIView):
    def get_permissions(self):
        if self.request.method in ("PATCH", "PUT"):
            return [requires("tasks.change_quota")()]
        if self.request.method == "DELETE":
            return [requires("tasks.delete_quota")()]
        return [IsUser()]

    @extend_schema(responses=dict)
    def get(self, request: Request, pk: str) -> Response:
        return Response(quotas.summaries([_get(pk)])[0])

    @extend_schema(request=QuotaSerializer, responses=dict)
    def patch(self, request: Request, pk: str) -> Response:
        quota = _get(pk)
        data = QuotaSerializer(quota, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        quotas.save_quota(quota, values=_values(data.validated_data))
        return Response(quotas.summaries([_get(pk)])[0])

    def delete(self, request: Request, pk: str) -> Response:
        _get(pk).delete()
        from tasks.placement.trigger import request_placement
        request_placement()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyQuotaView(APIView):
    """`GET /api/v1/quotas/me`: who I am, the quotas over me with their usage, my fair-share usage."""

    permission_classes = [IsUser]

    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        user = request.user
        mine = quotas.applicable([user.pk]).get(user.pk, [])
        return Response({
            "username": user.get_username(),
            "groups": sorted(user.groups.values_list("name", flat=True)),
            "quotas": quotas.summaries(mine),
            "recent_usage": fairshare.recent_usage(user.pk),
            "half_life": fairshare.half_life(),
        })
