"""The project's own app: user API tokens, authentication and cross-cutting plumbing."""

from django.apps import AppConfig


class SchedulerSiteConfig(AppConfig):
    name = "scheduler_site"
    verbose_name = "Access"
