"""Operators' view of nodes: status, capacity, drain and undrain through the same services as the
API; deleting a node is forgetting it (`services.forget_node`: its tasks are requeued first)."""

from __future__ import annotations

from django.contrib import admin, messages

from nodes import services
from nodes.models import Node, NodeEvent
from scheduler_site.formats import millicores_to_cores


class NodeEventInline(admin.TabularInline):
    model = NodeEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "from_status", "to_status", "reason", "message")
    ordering = ("-id",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "draining", "cpu", "memory", "gpus", "cpu_usage", "mem_usage", "last_heartbeat")
    list_filter = ("status", "draining")
    search_fields = ("name",)
    readonly_fields = ("status", "cpu_capacity", "mem_capacity", "cpu_allocated", "mem_allocated", "cpu_usage",
                       "mem_usage", "last_heartbeat", "generation", "agent_info", "registered_at", "created_at",
                       "draining", "gpu_capacity", "gpu_allocated", "gpu_devices")
    fields = ("name", "labels", *readonly_fields)
    inlines = [NodeEventInline]
    actions = ["drain", "undrain", "forget"]

    @admin.display(description="CPU (allocated / cores)")
    def cpu(self, node: Node) -> str:
        return f"{millicores_to_cores(node.cpu_allocated)} / {millicores_to_cores(node.cpu_capacity)}"

    @admin.display(description="Memory (allocated / MiB)")
    def memory(self, node: Node) -> str:
        return f"{node.mem_allocated} / {node.mem_capacity}"

    @admin.display(description="GPUs (allocated / total)")
    def gpus(self, node: Node) -> str:
        return f"{node.gpu_allocated} / {node.gpu_capacity}" if node.gpu_capacity else "-"

    def has_add_permission(self, request) -> bool:
        return False  # nodes join through their agent

    def _set_draining(self, request, queryset, draining: bool) -> None:
        for node in queryset:
            services.set_draining(node_id=node.pk, draining=draining, by=request.user.get_username())
        verb = "Draining" if draining else "Undrained"
        self.message_user(request, f"{verb}: {', '.join(n.name for n in queryset)}.", messages.SUCCESS)

    @admin.action(description="Drain (no new tasks; running ones finish)", permissions=["change"])
    def drain(self, request, queryset) -> None:
        self._set_draining(request, queryset, True)

    @admin.action(description="Undrain", permissions=["change"])
    def undrain(self, request, queryset) -> None:
        self._set_draining(request, queryset, False)

    @admin.action(description="Forget (requeue its tasks and remove it; its agent registers anew)",
                  permissions=["delete"])
    def forget(self, request, queryset) -> None:
        names = [node.name for node in queryset]
        self.delete_queryset(request, queryset)
        self.message_user(request, f"Forgotten: {', '.join(names)}; their tasks were requeued.", messages.SUCCESS)

    def delete_model(self, request, obj: Node) -> None:
        services.forget_node(node_id=obj.pk, by=request.user.get_username())

    def delete_queryset(self, request, queryset) -> None:
        for node_id in list(queryset.values_list("pk", flat=True)):
            services.forget_node(node_id=node_id, by=request.user.get_username())
