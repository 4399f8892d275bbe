"""The dashboard: the built Vue app's index.html for every client-side route.

The page carries who is signed in (the answer of `GET /api/v1/auth/me`, as inert JSON in
`<script id="session">`), so the app routes and opens its first socket without a round trip.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import json_script
from django.views.decorators.csrf import ensure_csrf_cookie

from scheduler_site.auth_views import who_is_signed_in

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
    session = json_script(who_is_signed_in(request.user), "session").encode()
    html = page.read_bytes().replace(b"</head>", session + b"</head>", 1)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "private, no-cache"  # it names the user: never a shared cache
    return response


def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)
