"""Task endpoints of API v1: translate HTTP to `tasks.services` / `tasks.selectors` and back."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_site import idempotency
from scheduler_site.openapi import paginated
from scheduler_site.pagination import KeysetPagination, Pagination
from scheduler_site.permissions import IsUser, requires
from tasks import access, selectors, services
from tasks.batch import arrays, plan
from tasks.models import Task, TaskArray
from tasks.presenters import task_summary
from tasks.serializers import (
    TaskArraySerializer,
    TaskDetailSerializer,
    TaskSerializer,
    TaskSubmitSerializer,
    validate_items,
)


def _actor(request: Request) -> str:
    return request.user.get_username()


# A submit answers one task, an array and its elements, or (for a JSON list) each item's answer.
_ARRAY_CREATED = inline_serializer("ArrayCreated", {
    "array": inline_serializer("ArrayRef", {"id": serializers.IntegerField(), "size": serializers.IntegerField(),
                                            "throttle": serializers.IntegerField(allow_null=True)}),
    "tasks": TaskSerializer(many=True),
})
SUBMITTED = PolymorphicProxySerializer(
    component_name="Submitted", resource_type_field_name=None,
    serializers=[TaskDetailSerializer, _ARRAY_CREATED,
                 inline_serializer("SubmittedList", {"results": serializers.ListField(child=serializers.DictField())})],
)


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
            OpenApiParameter("owner", str, description="username of the submitter, or `me`"),
            OpenApiParameter("q", str, description="text in the name or the command, or #ID"),
            OpenApiParameter("array", str, pattern=r"^([1-9][0-9]{0,17})?$",
                             description="the elements of this array (its id)"),
            OpenApiParameter("cursor", str, pattern=r"^([1-9][0-9]{0,17})?$",
                             description="cursor pagination: empty for the first page, then next_cursor (no count); "
                                         "without it, ?page="),
            OpenApiParameter("page", int), OpenApiParameter("page_size", int),
        ],
        responses=paginated(TaskSerializer(), "PaginatedTaskList", cursor=True), operation_id="v1_tasks_list",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        owner = params.get("owner")
        if owner is not None and owner.strip() == "me":
            owner = request.user.get_username()
        tasks = selectors.list_tasks(status=params.get("status"), node=params.get("node"), owner=owner,
                                     q=params.get("q"), array=params.get("array"))
        if KeysetPagination.wanted(request):
            keyset = KeysetPagination(request)
            rows, next_cursor = keyset.page(tasks)
            return Response(keyset.response_body(TaskSerializer(rows, many=True).data, next_cursor))
        paginator = Pagination()
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(request={"application/json": TaskSubmitSerializer}, responses={201: SUBMITTED},
                   parameters=[
        OpenApiParameter(idempotency.HEADER, str, OpenApiParameter.HEADER, description=(
            "a key of your choice (a UUID): a retry with the same key and body within 24 hours gets the "
            "first answer and creates nothing")),
    ])
    def post(self, request: Request) -> Response:
        key = idempotency.read_key(request.headers)
        if isinstance(request.data, list):  # several at once (spec files): one transaction
            items = validate_items(request.data)

            def submit() -> tuple[int, dict]:
                created = services.submit_many(items, submitter=request.user)
                return status.HTTP_201_CREATED, {"results": [created_body(one, request) for one in created]}
        else:
            submission = TaskSubmitSerializer(data=request.data)
            submission.is_valid(raise_exception=True)
            fields = dict(submission.validated_data)
            if "array" in fields:
                fields["array_text"] = request.data["array"]

            def submit() -> tuple[int, dict]:
                return status.HTTP_201_CREATED, created_body(services.submit(**fields, submitter=request.user), request)

        answer = idempotency.run_once(user=request.user, scope="POST /api/v1/tasks", key=key, body=request.data,
                                      perform=submit)
        headers = {}
        if "id" in answer.body:
            headers["Location"] = f"/api/v1/tasks/{answer.body['id']}"
        elif "array" in answer.body:
            headers["Location"] = f"/api/v1/arrays/{answer.body['array']['id']}"
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(answer.body, status=answer.status, headers=headers)


class TaskDetailView(APIView):
    permission_classes = [IsUser]

    @extend_schema(responses=TaskDetailSerializer)
    def get(self, request: Request, pk: str) -> Response:
        task = selectors.get_task(pk, with_events=True)
        return Response(TaskDetailSerializer(task, context={"request": request}).data)


class TaskRerunView(APIView):
    permission_classes = [requires("tasks.add_task")]

    @extend_schema(request=None, responses={201: TaskDetailSerializer})
    def post(self, request: Request, pk: str) -> Response:
        original = selectors.get_task(pk)
        access.check_act(request.user, original)
        task = services.rerun_task(task_id=original.pk, submitter=request.user)
        return Response(TaskDetailSerializer(selectors.get_task(task.pk, with_events=True),
                                             context={"request": request}).data,
                        status=status.HTTP_201_CREATED, headers={"Location": f"/api/v1/tasks/{task.pk}"})


class TaskCancelView(APIView):
    permission_classes = [IsUser]  # the owner (tasks.add_task) or an operator: tasks.access decides

    @extend_schema(request=None, responses=TaskDetailSerializer)
    def post(self, request: Request, pk: str) -> Response:
        task = selectors.get_task(pk)
        access.check_act(request.user, task)
        services.cancel_task(task_id=task.pk, by=_actor(request))
        return Response(TaskDetailSerializer(selectors.get_task(task.pk, with_events=True),
                                             context={"request": request}).data)


# --- batch workloads (issue 16): arrays ---


def created_body(created: Task | tuple[TaskArray, list[Task]], request: Request) -> dict:
    if isinstance(created, Task):
        return TaskDetailSerializer(created, context={"request": request}).data
    return array_created(*created)


def array_created(array: TaskArray, tasks: list[Task]) -> dict:
    """The answer to an array's submission: the array and its elements (the list's shape each)."""
    return {"array": {"id": array.pk, "size": array.size, "throttle": array.throttle},
            "tasks": [task_summary(task) for task in tasks]}


class ArrayDetailView(APIView):
    permission_classes = [IsUser]

    @extend_schema(responses=TaskArraySerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(TaskArraySerializer(arrays.get_array(pk)).data)


class ArrayCancelView(APIView):
    permission_classes = [requires("tasks.change_task")]

    @extend_schema(request=None, responses=TaskArraySerializer)
    def post(self, request: Request, pk: str) -> Response:
        array = arrays.get_array(pk)
        arrays.cancel_array(array_id=array.pk, by=_actor(request))
        return Response(TaskArraySerializer(arrays.get_array(array.pk)).data)


class TaskPlanView(APIView):
    """The dry run: where this task would go now and why not elsewhere; nothing is written."""

    permission_classes = [IsUser]

    @extend_schema(request={"application/json": TaskSubmitSerializer}, responses={200: dict})
    def post(self, request: Request) -> Response:
        submission = TaskSubmitSerializer(data=request.data)
        submission.is_valid(raise_exception=True)
        fields = dict(submission.validated_data)
        depends_on = fields.pop("depends_on", [])
        fields.pop("array", None)
        return Response(plan.plan(fields=fields, depends_on=depends_on))
