"""ASGI entry point for daphne: HTTP to Django, WebSockets to the consumers in routing.py (part of
the composition root with `urls` and `routing`: it may import every app).

On the first event the server's loop is bound for `scheduler_site.bus`, this process's placement
loop starts (submits and freed capacity are acted on at once) and, with the in-memory channel
layer, the event feed that brings other processes' changes to this master's WebSockets.
"""

from __future__ import annotations

import asyncio
import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django

django.setup(set_prefix=False)

from scheduler_site.http_handler import ThreadPoolASGIHandler  # noqa: E402

django_app = ThreadPoolASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from scheduler_site import bus  # noqa: E402
from scheduler_site.routing import websocket_urlpatterns  # noqa: E402
from scheduler_site.static_asgi import StaticFiles  # noqa: E402
from scheduler_site.ws_gate import HandshakeGate  # noqa: E402
from tasks import event_feed  # noqa: E402
from tasks.placement.trigger import start_background  # noqa: E402

router = ProtocolTypeRouter({
    "http": StaticFiles(django_app),
    "websocket": HandshakeGate(URLRouter(websocket_urlpatterns)),
})


# Thousands of long-lived connections mean millions of objects; Python's default collector
# thresholds then run full collections often enough to stall every socket for hundreds of ms.
# Objects from start-up are frozen out of collection, and collections are rarer.
gc.freeze()
gc.set_threshold(50_000, 20, 100)


async def application(scope, receive, send):
    if bus.server_loop() is None:
        bus.bind_server_loop(asyncio.get_running_loop())
        start_background()
        event_feed.start_if_needed()
    return await router(scope, receive, send)
