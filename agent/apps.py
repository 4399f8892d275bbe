"""Registers the agent's `runworker` command; the agent itself does not use Django."""

from django.apps import AppConfig


class AgentConfig(AppConfig):
    name = "agent"
    verbose_name = "Worker agent"
