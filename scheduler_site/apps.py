"""The project's own app: user API tokens, authentication and cross-cutting plumbing."""

from django.apps import AppConfig


class SchedulerSiteConfig(AppConfig):
    name = "scheduler_site"
    verbose_name = "Access"

    def ready(self) -> None:
        from scheduler_site import openapi  # noqa: F401 - the schema extensions register on import
