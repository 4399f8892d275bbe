"""WebSocket routes."""

from django.urls import re_path

from tasks.agent_consumer import AgentConsumer
from tasks.events_consumer import EventsConsumer
from tasks.logs.consumers import TaskLogConsumer

websocket_urlpatterns = [
    re_path(r"^ws/agent/?$", AgentConsumer.as_asgi()),
    re_path(r"^ws/events/?$", EventsConsumer.as_asgi()),
    re_path(r"^ws/tasks/(?P<task_id>[^/]+)/logs/?$", TaskLogConsumer.as_asgi()),
]
