"""Log endpoints: JSON chunks after a sequence number, and the whole log as streamed plain text."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_site.exceptions import DomainError
from scheduler_site.permissions import IsUser
from tasks.access import check_private
from tasks.logs.store import attempts_with_logs, chunk_message, newest_attempt, read_chunks
from tasks.models import LogChunk, Task
from tasks.selectors import get_task

MAX_LIMIT = 5000
RAW_PAGE = 500


def _int_param(request: Request, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError("Must be an integer.", field=name) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise DomainError(f"Must be {bound}.", field=name)
    return value


def _attempt(request: Request, task: Task) -> int:
    return _int_param(request, "attempt", newest_attempt(task), minimum=0, maximum=2**31 - 1)


class TaskLogView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="return chunks with seq greater than this (default -1)"),
            OpenApiParameter("attempt", int, description="which attempt (default: the newest)"),
            OpenApiParameter("limit", int, description=f"at most this many chunks (default 1000, max {MAX_LIMIT})"),
        ],
        responses=dict,
    )
    def get(self, request: Request, pk: str) -> Response:
        task = get_task(pk)
        check_private(request.user, task)
        attempt = _attempt(request, task)
        after = _int_param(request, "after", -1, minimum=-1, maximum=2**31 - 1)
        limit = _int_param(request, "limit", 1000, minimum=1, maximum=MAX_LIMIT)
        chunks = read_chunks(task, attempt=attempt, after=after, limit=limit)
        return Response({
            "task": task.pk,
            "attempt": attempt,
            "attempts": attempts_with_logs(task),
            "status": task.status,
            "chunks": [chunk_message(chunk) for chunk in chunks],
            "next_after": chunks[-1].seq if chunks else after,
            "more": len(chunks) == limit,
        })


def _raw_page(task_id: int, attempt: int, after: int) -> list[tuple[int, str]]:
    return list(
        LogChunk.objects.filter(task_id=task_id, attempt=attempt, seq__gt=after)
        .order_by("seq").values_list("seq", "data")[:RAW_PAGE]
    )


async def _raw_stream(task_id: int, attempt: int):
    after = -1
    while True:
        page = await sync_to_async(_raw_page)(task_id, attempt, after)
        if not page:
            return
        yield "".join(data for _, data in page).encode()
        after = page[-1][0]


class TaskRawLogView(APIView):
    permission_classes = [IsUser]

    @extend_schema(parameters=[OpenApiParameter("attempt", int)], responses={(200, "text/plain"): str})
    def get(self, request: Request, pk: str) -> StreamingHttpResponse:
        task = get_task(pk)
        check_private(request.user, task)
        attempt = _attempt(request, task)
        response = StreamingHttpResponse(_raw_stream(task.pk, attempt), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="task-{task.pk}-attempt-{attempt}.log"'
        return response
