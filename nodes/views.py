"""Node endpoints of API v1: list, detail, drain and undrain. (The agents' endpoints, register,
heartbeat and leave, are `tasks.agents.views`.)"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nodes import hooks, selectors, services
from nodes.serializers import NodeDetailSerializer, NodeSerializer
from scheduler_site.exceptions import DomainError
from scheduler_site.openapi import paginated
from scheduler_site.pagination import Pagination
from scheduler_site.permissions import IsUser, requires
from scheduler_site.statuses import NODE_STATUSES


def _status_filter(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    wanted = [part.strip().upper() for part in raw.split(",") if part.strip()]
    unknown = [part for part in wanted if part not in NODE_STATUSES]
    if unknown:
        raise DomainError(f"Unknown status {', '.join(unknown)}; use ONLINE, UNHEALTHY or OFFLINE.",
                          field="status")
    return wanted


class NodeListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="ONLINE, UNHEALTHY or OFFLINE; comma-separated"),
                    OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses=paginated(NodeSerializer(), "PaginatedNodeList"), operation_id="v1_nodes_list",
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
        "tasks": hooks.active_tasks.first(node, default=[]),
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
        services.set_draining(node_id=node.pk, draining=self.draining, by=request.user.get_username())
        return _detail(pk)


class NodeUndrainView(NodeDrainView):
    draining = False
