"""WebSocket routes, each with its authentication: the agents' socket takes a node token and no
session machinery; the browsers' take the session cookie (same-site Origin) or a user token.
Part of the composition root (with `urls` and `asgi`): it may import every app."""

from django.urls import re_path

from scheduler_site.ws_auth import NodeTokenAuth, WebSocketAuth
from tasks.agents.consumer import AgentConsumer
from tasks.events_consumer import EventsConsumer
from tasks.logs.consumers import TaskLogConsumer

websocket_urlpatterns = [
    re_path(r"^ws/agent/?$", NodeTokenAuth(AgentConsumer.as_asgi())),
    re_path(r"^ws/events/?$", WebSocketAuth(EventsConsumer.as_asgi())),
    re_path(r"^ws/tasks/(?P<task_id>[^/]+)/logs/?$", WebSocketAuth(TaskLogConsumer.as_asgi())),
]
