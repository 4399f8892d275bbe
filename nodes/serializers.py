"""Node JSON at the API edge, delegating to `nodes.presenters`. (The agents' bodies, register and
heartbeat, are `tasks.agents.serializers`.)"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from nodes.presenters import node_summary
from scheduler_site.formats import iso
from scheduler_site.statuses import NodeStatus, choices


@extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/Task"}})
class TaskListField(serializers.ListField):
    """Tasks as `tasks` presents them (rendered there: `nodes` does not import `tasks`)."""


class NodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=choices(NodeStatus))
    draining = serializers.BooleanField()
    labels = serializers.DictField(child=serializers.CharField())
    cpu = serializers.FloatField(help_text="capacity, cores")
    mem = serializers.IntegerField(help_text="capacity, MiB")
    cpu_allocated = serializers.FloatField()
    mem_allocated = serializers.IntegerField()
    cpu_free = serializers.FloatField()
    mem_free = serializers.IntegerField()
    cpu_usage = serializers.FloatField(allow_null=True, help_text="percent, from the agent")
    mem_usage = serializers.FloatField(allow_null=True, help_text="percent, from the agent")
    gpu_usage = serializers.ListField(child=serializers.DictField(), allow_null=True,
                                      help_text="[{index, util (%), mem_used, mem_total (MiB)}] from the agent's "
                                                "nvidia-smi; null without one")
    last_heartbeat = serializers.DateTimeField()
    tasks_running = serializers.IntegerField(help_text="tasks ASSIGNED to or RUNNING on the node")
    registered_at = serializers.DateTimeField()
    # -- GPUs (issue 19)
    gpu = serializers.IntegerField(help_text="capacity, GPUs")
    gpu_allocated = serializers.IntegerField()
    gpu_free = serializers.IntegerField()
    gpu_devices = serializers.ListField(
        child=serializers.DictField(), help_text="[{index, uuid, model, memory (MiB)}]")
    resources = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()),
                                      help_text="named resources: name -> {capacity, allocated, free}")

    def to_representation(self, instance) -> dict:
        return node_summary(instance)


class NodeEventSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    from_status = serializers.CharField(allow_null=True)
    to_status = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    message = serializers.CharField()

    def to_representation(self, instance) -> dict:
        return {
            "time": iso(instance.created_at),
            "from_status": instance.from_status or None,
            "to_status": instance.to_status or None,
            "reason": instance.reason,
            "message": instance.message,
        }


class NodeDetailSerializer(NodeSerializer):
    tasks = TaskListField(help_text="tasks ASSIGNED to or RUNNING on the node")
    events = NodeEventSerializer(many=True, help_text="the latest 50 health events, oldest first")
    agent = serializers.DictField()

    def to_representation(self, instance) -> dict:
        data = node_summary(instance)
        data["tasks"] = list(self.context["tasks"])
        data["events"] = NodeEventSerializer(self.context["events"], many=True).data
        data["agent"] = instance.agent_info
        return data
