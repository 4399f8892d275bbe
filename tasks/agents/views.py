"""The agents' HTTP endpoints of API v1: register (join token), heartbeat and leave (node token)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nodes import services
from scheduler_site.authentication import JoinTokenAuthentication, NodeTokenAuthentication
from scheduler_site.permissions import IsJoiner, IsSameNode
from tasks.agents.gateway import handle_heartbeat
from tasks.agents.serializers import HeartbeatSerializer, RegisterSerializer
from tasks.recovery import node_left


class RegisterView(APIView):
    authentication_classes = [JoinTokenAuthentication]
    permission_classes = [IsJoiner]

    @extend_schema(request={"application/json": RegisterSerializer}, responses={201: dict})
    def post(self, request: Request) -> Response:
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        node, token = services.register_node(
            name=data["name"], cpu=data["cpu"], mem=data["mem"], labels=data["labels"],
            agent_info=data["agent"], node_token=data["node_token"], gpus=data["gpus"],
            resources=data["resources"],
        )
        return Response(
            {
                "id": node.pk,
                "name": node.name,
                "token": token,
                "heartbeat_interval": settings.SCHEDULER_HEARTBEAT_INTERVAL,
                "unhealthy_after": settings.SCHEDULER_UNHEALTHY_AFTER,
                "offline_after": settings.SCHEDULER_OFFLINE_AFTER,
                "task_lease": settings.SCHEDULER_TASK_LEASE,
                "kill_grace": settings.SCHEDULER_KILL_GRACE,
            },
            status=status.HTTP_201_CREATED,
        )


class HeartbeatView(APIView):
    authentication_classes = [NodeTokenAuthentication]
    permission_classes = [IsSameNode]

    @extend_schema(request={"application/json": HeartbeatSerializer}, responses=dict)
    def post(self, request: Request, pk: str) -> Response:
        form = HeartbeatSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        beat = form.validated_data
        answer = handle_heartbeat(request.user.node, cpu_usage=beat.cpu_usage, mem_usage=beat.mem_usage,
                                  gpu_usage=beat.gpu_usage, reports=beat.reports)
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
