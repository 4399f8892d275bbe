"""Tasks: submission, the state machine, placement, fencing of reports, and logs."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
