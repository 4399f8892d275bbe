"""Node JSON at the API edge (delegating to `nodes.presenters`) and the agent protocol's input."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rest_framework import serializers

from nodes.presenters import node_summary
from scheduler_site.formats import iso
from tasks.serializers import (
    CoresField,
    RejectUnknownFieldsMixin,
    StrictFloatField,
    StrictStringField,
    TaskSerializer,
    labels_field,
)

NODE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
MAX_NODE_MEM_MIB = 64 * 1024 * 1024


def _strings_in(value) -> Iterator[str]:
    """Every key and string inside a parsed JSON value (iteratively: nesting depth is no concern here)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class NodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["ONLINE", "UNHEALTHY", "OFFLINE"])
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
    last_heartbeat = serializers.DateTimeField()
    tasks_running = serializers.IntegerField(help_text="tasks ASSIGNED to or RUNNING on the node")
    registered_at = serializers.DateTimeField()

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
    tasks = TaskSerializer(many=True, help_text="tasks ASSIGNED to or RUNNING on the node")
    events = NodeEventSerializer(many=True, help_text="the latest 50 health events, oldest first")
    agent = serializers.DictField()

    def to_representation(self, instance) -> dict:
        data = node_summary(instance)
        data["tasks"] = TaskSerializer(self.context["tasks"], many=True).data
        data["events"] = NodeEventSerializer(self.context["events"], many=True).data
        data["agent"] = instance.agent_info
        return data


class RegisterSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    name = StrictStringField(max_length=253)
    cpu = CoresField(help_text="capacity in cores")
    mem = serializers.IntegerField(min_value=1, max_value=MAX_NODE_MEM_MIB, help_text="capacity in MiB")
    labels = labels_field(required=False, default=dict)
    agent = serializers.DictField(required=False, default=dict, help_text="agent version, pid, hostname")
    node_token = StrictStringField(required=False, allow_null=True, default=None, max_length=200,
                                   help_text="this node's token, when rejoining after a restart")

    def validate_name(self, value: str) -> str:
        if not NODE_NAME.fullmatch(value):
            raise serializers.ValidationError("Letters, digits, '.', '_' and '-', starting and ending "
                                              "with a letter or digit, at most 253.")
        return value

    def validate_agent(self, value: dict) -> dict:
        if len(str(value)) > 4096:
            raise serializers.ValidationError("At most 4 KiB.")
        # PostgreSQL's jsonb can hold neither NUL nor lone surrogates: refuse them here, not with a 500.
        for text in _strings_in(value):
            if "\x00" in text:
                raise serializers.ValidationError("Must not contain NUL bytes.")
            try:
                text.encode()
            except UnicodeEncodeError:
                raise serializers.ValidationError("Must be valid Unicode (no lone surrogates).") from None
        return value


class ReportSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    task = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    attempt = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    state = serializers.ChoiceField(choices=["running", "exited", "lost"])
    pid = serializers.IntegerField(required=False, allow_null=True, default=None)
    exit_code = serializers.IntegerField(required=False, allow_null=True, default=None,
                                         min_value=-255, max_value=255)
    reason = serializers.ChoiceField(choices=["timeout", "oom", "killed"], required=False, allow_null=True,
                                     default=None)
    at = StrictFloatField(required=False, allow_null=True, default=None)
    message = StrictStringField(required=False, allow_blank=True, default="", max_length=1000)

    def validate(self, attrs: dict) -> dict:
        if attrs["state"] == "exited" and attrs["exit_code"] is None:
            raise serializers.ValidationError({"exit_code": ["Required when state is 'exited'."]})
        return attrs


class HeartbeatSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    cpu_usage = StrictFloatField(required=False, allow_null=True, default=None, min_value=0, max_value=100)
    mem_usage = StrictFloatField(required=False, allow_null=True, default=None, min_value=0, max_value=100)
    tasks = ReportSerializer(many=True, required=False, default=list)
