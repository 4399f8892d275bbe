"""Log endpoints: pages of chunks (after a seq, before one, the tail, the page holding a line), the
whole log as streamed bytes, and search. The reads and the search live in `store` and `search`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_site.exceptions import DomainError
from scheduler_site.permissions import IsUser
from tasks.access import check_private
from tasks.logs import search
from tasks.logs.store import (
    STREAMS,
    attempts_with_logs,
    chunk_message,
    newest_attempt,
    read_around_line,
    read_before,
    read_chunks,
    total_lines,
)
from tasks.models import LogChunk, Task
from tasks.selectors import get_task

_INTEGER = re.compile(r"-?[0-9]{1,19}")
MAX_LIMIT = 5000
MAX_SEARCH_PAGE = 1000
RAW_PAGE = 500
MAX_SEQ = 2**31 - 1
MAX_LINE = 2**62


def _int_param(request: Request, name: str, default: int | None, *, minimum: int,
               maximum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not _INTEGER.fullmatch(raw):
        raise DomainError("Must be an integer.", field=name)
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise DomainError(f"Must be {bound}.", field=name)
    return value


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "")
    if raw in ("", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise DomainError("Must be 1 or 0.", field=name)


def _stream(request: Request) -> int | None:
    raw = request.query_params.get("stream")
    if raw in (None, ""):
        return None
    if raw not in STREAMS:
        raise DomainError("Must be stdout or stderr.", field="stream")
    return STREAMS[raw]


def _attempt(request: Request, task: Task) -> int:
    return _int_param(request, "attempt", newest_attempt(task), minimum=0, maximum=2**31 - 1)


class TaskLogView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="chunks with seq greater than this, oldest first (default -1)"),
            OpenApiParameter("tail", int, description="1: the last page of the log (tail first)"),
            OpenApiParameter("before", int, description="the page of chunks just before this seq (scrolling up)"),
            OpenApiParameter("line", int, description="the page holding this line (0-based)"),
            OpenApiParameter("attempt", int, description="which attempt (default: the newest)"),
            OpenApiParameter("limit", int, description=f"at most this many chunks (default 1000, max {MAX_LIMIT})"),
            OpenApiParameter("encoding", str, description="base64: each chunk also carries `b64`, its exact bytes"),
        ],
        responses=dict,
    )
    def get(self, request: Request, pk: str) -> Response:
        task = get_task(pk)
        check_private(request.user, task)
        attempt = _attempt(request, task)
        limit = _int_param(request, "limit", 1000, minimum=1, maximum=MAX_LIMIT)
        encoding = request.query_params.get("encoding", "")
        if encoding not in ("", "base64"):
            raise DomainError("Must be base64.", field="encoding")
        after = _int_param(request, "after", None, minimum=-1, maximum=MAX_SEQ)
        before = _int_param(request, "before", None, minimum=0, maximum=MAX_SEQ)
        line = _int_param(request, "line", None, minimum=0, maximum=MAX_LINE)
        tail = _flag(request, "tail")
        if sum(x is not None for x in (after, before, line)) + tail > 1:
            raise DomainError("Use one of after, before, line and tail.", field="after")
        if tail or before is not None:
            chunks = read_before(task, attempt=attempt, before=before, limit=limit)
            more = bool(chunks) and LogChunk.objects.filter(task=task, attempt=attempt, seq__lt=chunks[0].seq).exists()
        elif line is not None:
            chunks = read_around_line(task, attempt=attempt, line=line, limit=limit)
            more = bool(chunks) and LogChunk.objects.filter(task=task, attempt=attempt, seq__gt=chunks[-1].seq).exists()
        else:
            after = -1 if after is None else after
            chunks = read_chunks(task, attempt=attempt, after=after, limit=limit)
            more = len(chunks) == limit
        return Response({
            "task": task.pk,
            "attempt": attempt,
            "attempts": attempts_with_logs(task),
            "status": task.status,
            "chunks": [chunk_message(chunk, exact=encoding == "base64") for chunk in chunks],
            "next_after": chunks[-1].seq if chunks else (after if after is not None else -1),
            "first_seq": chunks[0].seq if chunks else None,
            "last_seq": chunks[-1].seq if chunks else None,
            "total_lines": total_lines(task, attempt=attempt),
            "more": more,
        })


def _raw_page(task_id: int, attempt: int, after: int, stream: int | None) -> list[tuple[int, int, bytes, float, bool]]:
    rows = LogChunk.objects.filter(task_id=task_id, attempt=attempt, seq__gt=after)
    if stream is not None:
        rows = rows.filter(stream=stream)
    return [(seq, kind, bytes(data), ts, cont) for seq, kind, data, ts, cont in
            rows.order_by("seq").values_list("seq", "stream", "data", "ts", "cont")[:RAW_PAGE]]


def _prefix(kind: int, ts: float, *, timestamps: bool, streams: bool) -> bytes:
    out = ""
    if timestamps:
        out += datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") + " "
    if streams:
        out += ("stdout " if kind == STREAMS["stdout"] else "stderr ")
    return out.encode()


class Decorator:
    """Chunks' bytes with a prefix (time, stream) before every line, for people: a line cut short
    by the other stream ends there, and its continuation gets a prefix of its own."""

    def __init__(self, *, timestamps: bool, streams: bool) -> None:
        self.timestamps, self.streams = timestamps, streams
        self.open_stream: int | None = None  # the stream whose line the output last left open

    def chunk(self, data: bytes, *, kind: int, ts: float, cont: bool) -> bytes:
        if not data:
            return b""
        prefix = _prefix(kind, ts, timestamps=self.timestamps, streams=self.streams)
        continues = cont and self.open_stream == kind
        out = [b"\n"] if self.open_stream is not None and not continues else []
        pieces = data.split(b"\n")
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            if last and not piece:
                break
            out.append((b"" if index == 0 and continues else prefix) + piece + (b"" if last else b"\n"))
        self.open_stream = None if data.endswith(b"\n") else kind
        return b"".join(out)


async def _raw_stream(task_id: int, attempt: int, *, stream: int | None, timestamps: bool, streams: bool):
    after = -1
    decorator = Decorator(timestamps=timestamps, streams=streams) if timestamps or streams else None
    while True:
        page = await sync_to_async(_raw_page)(task_id, attempt, after, stream)
        if not page:
            return
        if decorator is not None:
            yield b"".join(decorator.chunk(data, kind=kind, ts=ts, cont=cont) for _, kind, data, ts, cont in page)
        else:
            yield b"".join(data for _, _, data, _, _ in page)
        after = page[-1][0]


class TaskRawLogView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("attempt", int),
            OpenApiParameter("stream", str, description="stdout or stderr: that stream's bytes only"),
            OpenApiParameter("timestamps", int, description="1: each line starts with its time (UTC, ms)"),
            OpenApiParameter("streams", int, description="1: each line starts with its stream"),
        ],
        responses={(200, "text/plain"): str},
    )
    def get(self, request: Request, pk: str) -> StreamingHttpResponse:
        task = get_task(pk)
        check_private(request.user, task)
        attempt = _attempt(request, task)
        stream = _stream(request)
        timestamps, streams = _flag(request, "timestamps"), _flag(request, "streams")
        response = StreamingHttpResponse(
            _raw_stream(task.pk, attempt, stream=stream, timestamps=timestamps, streams=streams),
            content_type="text/plain; charset=utf-8",
        )
        response["Content-Disposition"] = f'inline; filename="task-{task.pk}-attempt-{attempt}.log"'
        return response


class TaskLogSearchView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True,
                             description=f"text to find, case-insensitive (at most {search.MAX_QUERY_CHARS} chars)"),
            OpenApiParameter("regex", int, description="1: q is a regular expression (Python syntax)"),
            OpenApiParameter("attempt", int, description="one attempt only (default: every attempt)"),
            OpenApiParameter("stream", str, description="stdout or stderr only"),
            OpenApiParameter("offset", int, description="skip this many matches (default 0)"),
            OpenApiParameter("limit", int, description=f"matches per page (default 100, max {MAX_SEARCH_PAGE})"),
        ],
        responses=dict,
    )
    def get(self, request: Request, pk: str) -> Response:
        task = get_task(pk)
        check_private(request.user, task)
        query = request.query_params.get("q", "")
        regex = _flag(request, "regex")
        search.matcher(query, regex=regex)  # a bad query is a 400 before anything is read
        attempt = _int_param(request, "attempt", None, minimum=1, maximum=2**31 - 1)
        stream = _stream(request)
        offset = _int_param(request, "offset", 0, minimum=0, maximum=10**9)
        limit = _int_param(request, "limit", 100, minimum=1, maximum=MAX_SEARCH_PAGE)
        result = search.search_log(task, query, regex=regex, attempt=attempt, stream=stream, offset=offset,
                                   limit=limit)
        return Response({
            "task": task.pk,
            "q": query,
            "total": result.total,
            "complete": result.complete,
            "offset": offset,
            "matches": [vars(match) for match in result.matches],
        })
