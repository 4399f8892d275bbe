"""Static files (the built dashboard, the admin's and the browsable API's assets) served straight
from ASGI, ahead of Django.

Why not WhiteNoise: it is a sync-only middleware, and one sync middleware makes Django run every
request's whole middleware chain through async-to-sync thread hops; measured here, that cost a
third of the master's CPU per API call. This app knows every file at startup (Django's staticfiles
finders), keeps them in memory once read, answers ETag revalidation with 304, and lets browsers
cache Vite's content-hashed assets forever.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import re
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

HASHED = re.compile(r"[-.][A-Za-z0-9_-]{8,}\.(js|css|woff2?|svg|png|jpg|webp|map)$")
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"


@dataclass
class StaticFile:
    path: Path
    content_type: bytes
    cache_control: bytes
    body: bytes | None = None
    etag: bytes = b""


def collect() -> dict[str, StaticFile]:
    """URL path -> file, for every file the staticfiles finders know (first finder wins)."""
    files: dict[str, StaticFile] = {}
    for finder in finders.get_finders():
        for relative, storage in finder.list([]):
            url = settings.STATIC_URL + relative.replace("\\", "/")
            if url in files:
                continue
            path = Path(storage.path(relative))
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
                content_type += "; charset=utf-8"
            files[url] = StaticFile(path=path, content_type=content_type.encode(),
                                    cache_control=IMMUTABLE if HASHED.search(path.name) else REVALIDATE)
    return files


class StaticFiles:
    """ASGI app: GET/HEAD of files under STATIC_URL; everything else goes to `app`."""

    RESCAN_AFTER = 2.0  # seconds: a file not found triggers a rescan (a rebuilt dashboard), at most this often

    def __init__(self, app) -> None:
        self.app = app
        self.files: dict[str, StaticFile] | None = None
        self.scanned = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(settings.STATIC_URL):
            return await self.app(scope, receive, send)
        found = self.files.get(scope["path"]) if self.files is not None else None
        if found is None and time.monotonic() - self.scanned > self.RESCAN_AFTER:
            self.files, self.scanned = await asyncio.to_thread(collect), time.monotonic()
            found = self.files.get(scope["path"])
        if found is None or scope["method"] not in ("GET", "HEAD"):
            return await self._respond(send, 404 if found is None else 405, b"text/plain", b"", b"Not found")
        if found.body is None:
            found.body = await asyncio.to_thread(found.path.read_bytes)
            found.etag = b'"' + hashlib.sha1(found.body).hexdigest()[:20].encode() + b'"'
        headers = dict(scope.get("headers", []))
        if headers.get(b"if-none-match") == found.etag:
            return await self._respond(send, 304, found.content_type, found.cache_control, b"", etag=found.etag)
        body = b"" if scope["method"] == "HEAD" else found.body
        await self._respond(send, 200, found.content_type, found.cache_control, body, etag=found.etag,
                            length=len(found.body))

    @staticmethod
    async def _respond(send, status: int, content_type: bytes, cache_control: bytes, body: bytes, *,
                       etag: bytes = b"", length: int | None = None) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body) if length is None else length)
                                                     .encode()), (b"x-content-type-options", b"nosniff")]
        if cache_control:
            headers.append((b"cache-control", cache_control))
        if etag:
            headers.append((b"etag", etag))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
