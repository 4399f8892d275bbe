from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "tasks.history"
    label = "history"
    verbose_name = "Cluster history"
