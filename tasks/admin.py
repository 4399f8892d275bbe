"""Operators' view of tasks: filters, search, history; cancel, requeue and delete through
`tasks.services` (deleting a task that has not finished cancels it first: its reservation is
released, its agent told, its events written)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from scheduler_site.exceptions import DomainError
from tasks import services
from tasks.batch import arrays
from tasks.models import Task, TaskArray, TaskEvent


class TaskEventInline(admin.TabularInline):
    model = TaskEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "attempt", "from_status", "to_status", "node_name", "reason", "message")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "short_command", "status", "node_name", "attempt", "cpu", "mem", "priority",
                    "exit_code", "created_at")
    list_filter = ("status", "node_name", ("array", admin.EmptyFieldListFilter))
    search_fields = ("name", "command", "node_name")
    list_select_related = False
    readonly_fields = ("status", "status_reason", "status_message", "node", "node_name", "attempt", "exit_code",
                       "created_at", "assigned_at", "started_at", "finished_at", "log_bytes", "log_bytes_dropped",
                       "command", "cpu", "mem", "env", "node_selector", "timeout", "max_attempts", "submitter",
                       # batch workloads (issue 16)
                       "retries", "retries_used", "lost_attempts", "retry_backoff", "retry_backoff_max",
                       "retry_on_exit_codes", "not_before", "dependency", "dependencies", "dependents_list",
                       "array_link", "array_index")
    fields = ("name", "priority", *readonly_fields)
    inlines = [TaskEventInline]
    actions = ["cancel", "requeue"]

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup in ("array__id__exact", "array__id") or super().lookup_allowed(lookup, value, request)

    @admin.display(description="depends on")
    def dependencies(self, task: Task) -> str:
        return _task_links(task.depends_on.order_by("pk"))

    @admin.display(description="dependents")
    def dependents_list(self, task: Task) -> str:
        return _task_links(task.dependents.order_by("pk"))

    @admin.display(description="array")
    def array_link(self, task: Task) -> str:
        if task.array_id is None:
            return "-"
        url = reverse("admin:tasks_taskarray_change", args=[task.array_id])
        return format_html('<a href="{}">array {}</a>', url, task.array_id)

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


# --- batch workloads (issue 16): arrays ---


def _task_links(tasks) -> str:
    links = format_html_join(", ", '<a href="{}">#{}</a>',
                             ((reverse("admin:tasks_task_change", args=[t.pk]), t.pk) for t in tasks[:100]))
    return links or "-"


@admin.register(TaskArray)
class TaskArrayAdmin(admin.ModelAdmin):
    """Arrays with their counts per status; "Cancel" cancels every unfinished element
    (`tasks.batch.arrays.cancel_array`)."""

    list_display = ("id", "name", "spec", "size", "throttle", "progress", "submitter", "created_at")
    search_fields = ("name", "spec")
    fields = readonly_fields = ("spec", "size", "throttle", "name", "submitter", "created_at", "progress", "elements")
    actions = ["cancel"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("tasks.change_task")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("submitter")

    @admin.display(description="tasks per status")
    def progress(self, array: TaskArray) -> str:
        counts = arrays.counts(array)
        return ", ".join(f"{status} {n}" for status, n in counts.items() if n) or "-"

    @admin.display(description="elements")
    def elements(self, array: TaskArray) -> str:
        url = reverse("admin:tasks_task_changelist") + f"?array__id__exact={array.pk}"
        return format_html('<a href="{}">the {} tasks</a>', url, array.size)

    @admin.action(description="Cancel every unfinished task of the array", permissions=["change"])
    def cancel(self, request, queryset) -> None:
        for array in queryset:
            done = arrays.cancel_array(array_id=array.pk, by=request.user.get_username())
            self.message_user(request, f"Array {array.pk}: {done['cancelled']} task(s) cancelled.", messages.SUCCESS)
