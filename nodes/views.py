"""Node endpoints of API v1, public (list, detail, drain) and internal (agent register, heartbeat)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nodes import selectors, services
from nodes.models import NodeStatus
from nodes.serializers import (
    HeartbeatSerializer,
    NodeDetailSerializer,
    NodeSerializer,
    RegisterSerializer,
)
from scheduler_site.authentication import JoinTokenAuthentication, NodeTokenAuthentication
from scheduler_site.exceptions import DomainError
from scheduler_site.pagination import Pagination
from scheduler_site.permissions import IsJoiner, IsSameNode, IsUser, requires
from tasks.agent_gateway import Report, handle_heartbeat
from tasks.models import ACTIVE_STATUSES
from tasks.recovery import node_left


def _status_filter(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    wanted = [part.strip().upper() for part in raw.split(",") if part.strip()]
    unknown = [part for part in wanted if part not in NodeStatus.values]
    if unknown:
        raise DomainError(f"Unknown status {', '.join(unknown)}; use ONLINE, UNHEALTHY or OFFLINE.",
                          field="status")
    return wanted


class NodeListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="ONLINE, UNHEALTHY or OFFLINE; comma-separated"),
                    OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses=NodeSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        nodes = selectors.nodes_with_counts().order_by("name")
        statuses = _status_filter(request.query_params.get("status"))
        if statuses:
            nodes = nodes.filter(status__in=statuses)
        paginator = Pagination()
        page = paginator.paginate_queryset(nodes, request, view=self)
        return paginator.get_paginated_response(NodeSerializer(page, many=True).data)


def _detail(node_id: str) -> Response:
    node = selectors.get_node(node_id)
    context = {
        "tasks": node.tasks.filter(status__in=ACTIVE_STATUSES).order_by("id"),
        "events": list(reversed(node.events.order_by("-id")[:50])),
    }
    return Response(NodeDetailSerializer(node, context=context).data)


class NodeDetailView(APIView):
    permission_classes = [IsUser]

    @extend_schema(responses=NodeDetailSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return _detail(pk)


class NodeDrainView(APIView):
    permission_classes = [requires("nodes.change_node")]
    draining = True

    @extend_schema(request=None, responses=NodeDetailSerializer)
    def post(self, request: Request, pk: str) -> Response:
        node = selectors.get_node(pk)
        services.set_draining(node_id=node.pk, draining=self.draining)
        return _detail(pk)


class NodeUndrainView(NodeDrainView):
    draining = False


class RegisterView(APIView):
    authentication_classes = [JoinTokenAuthentication]
    permission_classes = [IsJoiner]

    @extend_schema(request=RegisterSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        node, token = services.register_node(
            name=data["name"], cpu=data["cpu"], mem=data["mem"], labels=data["labels"],
            agent_info=data["agent"], node_token=data["node_token"],
        )
        return Response(
            {
                "id": node.pk,
                "name": node.name,
                "token": token,
                "heartbeat_interval": settings.SCHEDULER_HEARTBEAT_INTERVAL,
                "unhealthy_after": settings.SCHEDULER_UNHEALTHY_AFTER,
                "offline_after": settings.SCHEDULER_OFFLINE_AFTER,
                "kill_grace": settings.SCHEDULER_KILL_GRACE,
            },
            status=status.HTTP_201_CREATED,
        )


class HeartbeatView(APIView):
    authentication_classes = [NodeTokenAuthentication]
    permission_classes = [IsSameNode]

    @extend_schema(request=HeartbeatSerializer, responses=dict)
    def post(self, request: Request, pk: str) -> Response:
        form = HeartbeatSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        reports = [
            Report(task=r["task"], attempt=r["attempt"], state=r["state"], exit_code=r["exit_code"],
                   reason=r["reason"], at=r["at"], message=r["message"])
            for r in data["tasks"]
        ]
        answer = handle_heartbeat(request.user.node, cpu_usage=data["cpu_usage"], mem_usage=data["mem_usage"],
                                  reports=reports)
        answer["heartbeat_interval"] = settings.SCHEDULER_HEARTBEAT_INTERVAL
        return Response(answer)


class LeaveView(APIView):
    """The agent is stopping: the node goes OFFLINE at once and its tasks are requeued."""

    authentication_classes = [NodeTokenAuthentication]
    permission_classes = [IsSameNode]

    @extend_schema(request=None, responses=dict)
    def post(self, request: Request, pk: str) -> Response:
        events = node_left(request.user.node.pk)
        return Response({"requeued": len(events)})
