"""The agent HTTP bodies: registration, and the heartbeat with its reports. The heartbeat's rules
are `agent.protocol`'s (the same as on the WebSocket); the fields declared here document them in
the OpenAPI schema and name the field at fault in a 400."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rest_framework import serializers

from agent import protocol
from tasks.serializers import (
    MAX_GPUS,
    CoresField,
    NamedResourcesField,
    RejectUnknownFieldsMixin,
    StrictFloatField,
    StrictIntegerField,
    StrictStringField,
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


class GpuDeviceSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """One GPU of the node (issue 19), as `nvidia-smi` names it, or declared by index alone."""

    index = StrictIntegerField(min_value=0, max_value=protocol.MAX_GPU_INDEX)
    uuid = StrictStringField(required=False, default="", allow_blank=True, max_length=100)
    model = StrictStringField(required=False, default="", allow_blank=True, max_length=100)
    memory = StrictIntegerField(required=False, allow_null=True, default=None, min_value=0,
                                max_value=MAX_NODE_MEM_MIB, help_text="MiB")

    def validate_uuid(self, value: str) -> str:
        return _printable(value)

    def validate_model(self, value: str) -> str:
        return _printable(value)


def _printable(value: str) -> str:
    if not value.isprintable():
        raise serializers.ValidationError("Printable characters only.")
    return value


class RegisterSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    name = StrictStringField(max_length=253)
    cpu = CoresField(help_text="capacity in cores")
    mem = serializers.IntegerField(min_value=1, max_value=MAX_NODE_MEM_MIB, help_text="capacity in MiB")
    labels = labels_field(required=False, default=dict)
    agent = serializers.DictField(required=False, default=dict, help_text="agent version, pid, hostname")
    node_token = StrictStringField(required=False, allow_null=True, default=None, max_length=200,
                                   help_text="this node's token, when rejoining after a restart")
    gpus = GpuDeviceSerializer(many=True, required=False, default=list, max_length=MAX_GPUS,
                               help_text="the node's GPUs (their number is its GPU capacity)")

    resources = NamedResourcesField(required=False, default=dict,
                                    help_text="named countable resources: name -> count (licences, FPGA slots)")

    def validate_gpus(self, value: list[dict]) -> list[dict]:
        indices = [device["index"] for device in value]
        if len(set(indices)) != len(indices):
            raise serializers.ValidationError("Each device index at most once.")
        return [dict(device) for device in value]

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


def _refused(error: protocol.ProtocolError) -> serializers.ValidationError:
    return serializers.ValidationError({error.field or "non_field_errors": [error.message]})


class ReportSerializer(serializers.Serializer):
    """One report (`agent.protocol.parse_report`); validated data is a `protocol.Report`."""

    task = serializers.IntegerField(min_value=1, max_value=protocol.MAX_TASK_ID)
    attempt = serializers.IntegerField(min_value=1, max_value=protocol.MAX_ATTEMPT)
    state = serializers.ChoiceField(choices=[state.value for state in protocol.ReportState])
    pid = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=protocol.MAX_PID)
    exit_code = serializers.IntegerField(required=False, allow_null=True, min_value=protocol.EXIT_CODE_RANGE[0],
                                         max_value=protocol.EXIT_CODE_RANGE[1],
                                         help_text="required when state is 'exited'")
    reason = serializers.ChoiceField(choices=[reason.value for reason in protocol.ExitReason], required=False,
                                     allow_null=True, help_text="why the agent ended the process, if it did")
    at = StrictFloatField(required=False, allow_null=True, help_text="unix time the agent saw it happen")
    message = StrictStringField(required=False, allow_blank=True, max_length=protocol.MAX_MESSAGE_CHARS)

    def to_internal_value(self, data) -> protocol.Report:
        try:
            return protocol.parse_report(data)
        except protocol.ProtocolError as error:
            raise _refused(error) from None


class HeartbeatSerializer(serializers.Serializer):
    """The full heartbeat (`agent.protocol.parse_heartbeat`); validated data is a `protocol.Heartbeat`."""

    cpu_usage = StrictFloatField(required=False, allow_null=True, min_value=0, max_value=100)
    mem_usage = StrictFloatField(required=False, allow_null=True, min_value=0, max_value=100)
    gpu_usage = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True,
                                      help_text="per device: index, util (%), mem_used and mem_total (MiB)")
    tasks = ReportSerializer(many=True, required=False)

    def to_internal_value(self, data) -> protocol.Heartbeat:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Invalid data. Expected a dictionary."]})
        if "type" in data:
            raise serializers.ValidationError({"type": ["Unknown field."]})
        try:
            return protocol.parse_heartbeat(data)
        except protocol.ProtocolError as error:
            raise _refused(error) from None
