"""Task endpoints of API v1: translate HTTP to `tasks.services` / `tasks.selectors` and back."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_site import idempotency
from scheduler_site.openapi import paginated
from scheduler_site.pagination import KeysetPagination, Pagination
from scheduler_site.permissions import IsUser, requires
from tasks import selectors, services
from tasks.serializers import TaskDetailSerializer, TaskSerializer, TaskSubmitSerializer


def _actor(request: Request) -> str:
    return request.user.get_username()


class TaskListView(APIView):
    def get_permissions(self):
        if self.request.method == "POST":
            return [requires("tasks.add_task")()]
        return [IsUser()]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="PENDING, ASSIGNED, RUNNING, SUCCEEDED, FAILED or "
                                                        "CANCELLED; several separated by commas"),
            OpenApiParameter("node", str, description="node id or name"),
            OpenApiParameter("owner", str, description="username of the submitter"),
            OpenApiParameter("q", str, description="text in the name or the command, or #ID"),
            OpenApiParameter("cursor", str, description="cursor pagination: empty for the first page, then "
                                                        "next_cursor (no count); without it, ?page="),
            OpenApiParameter("page", int), OpenApiParameter("page_size", int),
        ],
        responses=paginated(TaskSerializer(), "PaginatedTaskList", cursor=True), operation_id="v1_tasks_list",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        tasks = selectors.list_tasks(status=params.get("status"), node=params.get("node"),
                                     owner=params.get("owner"), q=params.get("q"))
        if KeysetPagination.wanted(request):
            keyset = KeysetPagination(request)
            rows, next_cursor = keyset.page(tasks)
            return Response(keyset.response_body(TaskSerializer(rows, many=True).data, next_cursor))
        paginator = Pagination()
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(request=TaskSubmitSerializer, responses={201: TaskDetailSerializer}, parameters=[
        OpenApiParameter(idempotency.HEADER, str, OpenApiParameter.HEADER, description=(
            "a key of your choice (a UUID): a retry with the same key and body within 24 hours gets the "
            "first answer and creates nothing")),
    ])
    def post(self, request: Request) -> Response:
        key = idempotency.read_key(request.headers)
        submission = TaskSubmitSerializer(data=request.data)
        submission.is_valid(raise_exception=True)

        def submit() -> tuple[int, dict]:
            task = services.submit_task(**submission.validated_data, submitter=request.user)
            return status.HTTP_201_CREATED, TaskDetailSerializer(task).data

        answer = idempotency.run_once(user=request.user, scope="POST /api/v1/tasks", key=key, body=request.data,
                                      perform=submit)
        headers = {"Location": f"/api/v1/tasks/{answer.body['id']}"}
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(answer.body, status=answer.status, headers=headers)


class TaskDetailView(APIView):
    permission_classes = [IsUser]

    @extend_schema(responses=TaskDetailSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(TaskDetailSerializer(selectors.get_task(pk, with_events=True)).data)


class TaskRerunView(APIView):
    permission_classes = [requires("tasks.add_task")]

    @extend_schema(request=None, responses={201: TaskDetailSerializer})
    def post(self, request: Request, pk: str) -> Response:
        original = selectors.get_task(pk)
        task = services.rerun_task(task_id=original.pk, submitter=request.user)
        return Response(TaskDetailSerializer(selectors.get_task(task.pk, with_events=True)).data,
                        status=status.HTTP_201_CREATED, headers={"Location": f"/api/v1/tasks/{task.pk}"})


class TaskCancelView(APIView):
    permission_classes = [requires("tasks.change_task")]

    @extend_schema(request=None, responses=TaskDetailSerializer)
    def post(self, request: Request, pk: str) -> Response:
        task = selectors.get_task(pk)
        services.cancel_task(task_id=task.pk, by=_actor(request))
        return Response(TaskDetailSerializer(selectors.get_task(task.pk, with_events=True)).data)
