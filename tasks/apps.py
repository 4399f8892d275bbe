"""Tasks: submission, the state machine, placement, fencing of reports, and logs."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"

    def ready(self) -> None:
        """Answer the hooks `nodes` calls upward (it never imports `tasks`), and add the cluster
        gauges to the master's metrics."""
        from nodes import hooks
        from scheduler_site import metrics
        from tasks import cluster_metrics, recovery, states
        from tasks.batch import dependencies
        from tasks.batch import holds as batch_holds
        from tasks.placement.trigger import request_placement
        from tasks.presenters import active_task_summaries

        hooks.placement_wanted.register(request_placement)
        hooks.active_tasks.register(active_task_summaries)
        hooks.releasing_node.register(recovery.release_node)
        metrics.add_collector(cluster_metrics.ClusterCollector)
        batch_holds.register()  # Dependency, Backoff, Throttle
        states.on_finished(dependencies.settle)
