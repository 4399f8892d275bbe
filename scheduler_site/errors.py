"""Translate domain errors to HTTP once, and keep every error body in one shape."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scheduler_site.exceptions import DomainError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body = {exc.field: [exc.message], **body}
        return Response(body, status=exc.status_code)
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
