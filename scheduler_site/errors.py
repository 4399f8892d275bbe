"""Translate domain errors to HTTP once, and keep every error body in one shape.

A database that cannot be reached (a restart, a crash, the connection pool used up) is not the
client's fault nor a bug: it answers 503 with `Retry-After` and the usual `{"detail", "code"}`
body, so agents, the CLI and the dashboard back off and retry instead of treating it as a failure.
The same shape is what the HTTP handler answers when it sheds load (`unavailable_body`).
"""

from __future__ import annotations

import logging
import sys

from django import db
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from scheduler_site.exceptions import DomainError

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER = 2  # seconds: a PostgreSQL restart takes about this long


def database_unavailable(exc: BaseException | None) -> bool:
    """True for errors that say the database cannot be reached right now (not a bad query)."""
    return isinstance(exc, (db.OperationalError, db.InterfaceError))


def unavailable_body(detail: str, code: str) -> dict:
    return {"detail": detail, "code": code}


DATABASE_DETAIL = "The database is unavailable right now; retry later."


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body = {exc.field: [exc.message], **body}
        return Response(body, status=exc.status_code)
    if database_unavailable(exc):
        logger.warning("database unavailable (answered 503): %s", exc)
        set_rollback()
        return Response(unavailable_body(DATABASE_DETAIL, "database_unavailable"),
                        status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(DATABASE_RETRY_AFTER)})
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        # Django's own answer is an HTML page; an API client gets the API's shape.
        return Response({"detail": f"The request body is too large ({exc}).", "code": "too_large"},
                        status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED and "detail" not in (response.data or {}):
        response.data = {"detail": "Method not allowed."}
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an unreachable database outside DRF's views (middleware, plain views) is a 503 too."""
    if database_unavailable(sys.exc_info()[1]):
        response = JsonResponse(unavailable_body(DATABASE_DETAIL, "database_unavailable"), status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
    return defaults.server_error(request)
