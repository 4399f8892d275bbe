"""The dashboard: the built Vue app's index.html for every client-side route."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie

MISSING = """<!doctype html><title>mini-scheduler</title>
<body style="font-family:sans-serif;background:#0b0f14;color:#cbd5e1;padding:2rem">
<h1>mini-scheduler</h1><p>The dashboard is not built. Run <code>make frontend</code>
(or <code>make demo</code>). Meanwhile: <a href="/api/v1/">API</a>, <a href="/api/docs/">docs</a>,
<a href="/admin/">admin</a>.</p></body>"""


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    page = settings.FRONTEND_DIST / "index.html"
    if not page.is_file():
        return HttpResponse(MISSING, status=200)
    response = HttpResponse(page.read_bytes(), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)
