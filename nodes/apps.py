"""Node registry and health: who the workers are, what they have, whether they are alive."""

from django.apps import AppConfig


class NodesConfig(AppConfig):
    name = "nodes"
