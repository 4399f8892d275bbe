"""Operators' view of tasks: filters, search, history; cancel, requeue and delete through
`tasks.services` (deleting a task that has not finished cancels it first: its reservation is
released, its agent told, its events written)."""

from __future__ import annotations

from django.contrib import admin, messages

from scheduler_site.exceptions import DomainError
from tasks import services
from tasks.models import Task, TaskEvent


class TaskEventInline(admin.TabularInline):
    model = TaskEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "attempt", "from_status", "to_status", "node_name", "reason", "message")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "short_command", "status", "node_name", "attempt", "cpu", "mem", "gpu", "priority",
                    "exit_code", "created_at")
    list_filter = ("status", "node_name")
    search_fields = ("name", "command", "node_name")
    list_select_related = False
    readonly_fields = ("status", "status_reason", "status_message", "node", "node_name", "attempt", "exit_code",
                       "created_at", "assigned_at", "started_at", "finished_at", "log_bytes", "log_bytes_dropped",
                       "command", "cpu", "mem", "env", "node_selector", "timeout", "max_attempts", "submitter",
                       "gpu", "gpu_devices")
    fields = ("name", "priority", *readonly_fields)
    inlines = [TaskEventInline]
    actions = ["cancel", "requeue"]

    @admin.display(description="command")
    def short_command(self, task: Task) -> str:
        return task.command if len(task.command) <= 60 else task.command[:57] + "..."

    def has_add_permission(self, request) -> bool:
        return False  # submit through the API, the dashboard or the CLI

    def _each(self, request, queryset, action, verb: str) -> None:
        done, refused = [], []
        for task in queryset:
            try:
                action(task_id=task.pk, by=request.user.get_username())
                done.append(str(task.pk))
            except DomainError as error:
                refused.append(f"{task.pk}: {error.message}")
        if done:
            self.message_user(request, f"{verb}: task(s) {', '.join(done)}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request, queryset) -> None:
        self._each(request, queryset, services.cancel_task, "Cancelled")

    @admin.action(description="Requeue (end the current attempt, place again)", permissions=["change"])
    def requeue(self, request, queryset) -> None:
        self._each(request, queryset, services.requeue_task, "Requeued")

    def delete_model(self, request, obj: Task) -> None:
        services.delete_task(task_id=obj.pk, by=request.user.get_username())

    def delete_queryset(self, request, queryset) -> None:
        for task_id in list(queryset.values_list("pk", flat=True)):
            services.delete_task(task_id=task_id, by=request.user.get_username())
