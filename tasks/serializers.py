"""Task JSON at the API edge: validation of submissions (every error names its field) and the
read shapes, which delegate to `tasks.presenters` so the API and the live streams agree."""

from __future__ import annotations

import math
import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from nodes.resources import MAX_NAMED_AMOUNT, MAX_NAMED_RESOURCES, NAMED_RESOURCE, RESERVED_NAMES
from nodes.selectors import known_resource_names
from scheduler_site.formats import MAX_CORES, NUMBER_TEXT, QuantityError, millicores_to_cores, parse_cores
from scheduler_site.statuses import DEPENDENCIES, Dependency, TaskStatus, choices
from tasks.access import can_see_private, masked_env
from tasks.batch import array_spec, dependencies
from tasks.batch.array_spec import MAX_ELEMENTS, MAX_SPEC_LENGTH, ArraySpec
from tasks.batch.arrays import summary as arrays_summary
from tasks.batch.dependencies import MAX_DEPENDENCIES
from tasks.presenters import event_summary, queue_standing, task_summary

MAX_COMMAND_BYTES = 64 * 1024
MAX_NAME_LENGTH = 200
MAX_CPU_CORES = MAX_CORES
MAX_MEM_MIB = 16 * 1024 * 1024  # 16 TiB
MAX_TIMEOUT_SECONDS = 30 * 24 * 3600
MAX_ATTEMPTS = 100
PRIORITY_RANGE = (-1000, 1000)
MAX_RETRIES = 100
MAX_BACKOFF_SECONDS = 7 * 24 * 3600
MAX_EXIT_CODES = 256
MAX_MAP_ENTRIES = 128
MAX_MAP_BYTES = 64 * 1024
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABEL_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$")
RESERVED_ENV_PREFIX = "SCHEDULER_"


def _no_nul(value: str, what: str) -> str:
    if "\x00" in value:
        raise serializers.ValidationError(f"{what} must not contain NUL bytes.")
    return value


def _plain_text(value: str, what: str) -> str:
    """No NUL (PostgreSQL cannot store it) and no lone surrogates (not encodable as UTF-8)."""
    _no_nul(value, what)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise serializers.ValidationError(f"{what} must be valid Unicode (no lone surrogates).") from None
    return value


class StrictStringField(serializers.CharField):
    """A string and only a string: numbers, lists and objects are refused, not coerced."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A finite number; booleans are refused rather than read as 0 and 1."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, str) and not NUMBER_TEXT.fullmatch(data.strip())):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class StrictIntegerField(serializers.IntegerField):
    """A whole number written as one: 2, not 2.5, "2", true or 2.0."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class PositiveSecondsField(StrictFloatField):
    """A finite number of seconds greater than 0 (the schema says `exclusiveMinimum: 0`)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value > 0:
            raise serializers.ValidationError("Must be a positive number of seconds (omit it for no limit).")
        return value


class CoresField(serializers.Field):
    """CPU in cores (0.25 = a quarter core), stored as integer millicores; a number or a string
    holding one, read exactly by `scheduler_site.formats.parse_cores` (node capacities too)."""

    default_error_messages = {"invalid": "Must be a number of cores, such as 1 or 0.25."}

    def to_internal_value(self, data) -> int:
        try:
            return parse_cores(data, maximum=MAX_CPU_CORES)
        except QuantityError as error:
            raise serializers.ValidationError(error.message, code=error.code) from None

    def to_representation(self, value: int) -> float | int:
        return millicores_to_cores(value)  # millicores in, cores out (the schema's default too)


class StringMapField(serializers.Field):
    """A JSON object of string keys to string values (env, node selector, labels)."""

    max_entries = MAX_MAP_ENTRIES

    def __init__(self, *, key_pattern: re.Pattern, key_help: str, reserved_prefix: str = "", **kwargs) -> None:
        self.key_pattern = key_pattern
        self.key_help = key_help
        # the keys the API takes, as one regular expression (the OpenAPI schema's propertyNames)
        anchored = key_pattern.pattern.removeprefix("^")
        self.key_schema_pattern = "^" + (f"(?!{re.escape(reserved_prefix)})" if reserved_prefix else "") + anchored
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> dict[str, str]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be an object of string keys to string values.")
        if len(data) > MAX_MAP_ENTRIES:
            raise serializers.ValidationError(f"At most {MAX_MAP_ENTRIES} entries.")
        size = 0
        for key, value in data.items():
            if not isinstance(value, str):
                raise serializers.ValidationError(f"Value of {key!r} must be a string.")
            if not self.key_pattern.fullmatch(key):
                raise serializers.ValidationError(f"Key {key!r} is not valid: {self.key_help}.")
            _plain_text(value, f"Value of {key!r}")
            size += len(key.encode()) + len(value.encode())
        if size > MAX_MAP_BYTES:
            raise serializers.ValidationError(f"At most {MAX_MAP_BYTES} bytes in all.")
        return dict(data)

    def to_representation(self, value):
        return value


class RejectUnknownFieldsMixin:
    """Refuse fields the API does not know: a typo (`memory` for `mem`) must not pass silently."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def labels_field(**kwargs) -> StringMapField:
    return StringMapField(
        key_pattern=LABEL_KEY, key_help="letters, digits, '.', '_', '-', '/', at most 253", **kwargs
    )


# -- GPUs (issue 19) ---------------------------------------------------------------------------
MAX_GPUS = 256


@extend_schema_field({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
                     "example": {"matlab": 1}})
class NamedResourcesField(serializers.Field):
    """Named countable resources: an object of name -> whole number (licences, FPGA slots)."""

    def to_internal_value(self, data) -> dict[str, int]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be an object of resource names to whole numbers.")
        if len(data) > MAX_NAMED_RESOURCES:
            raise serializers.ValidationError(f"At most {MAX_NAMED_RESOURCES} resources.")
        for name, amount in data.items():
            if not NAMED_RESOURCE.fullmatch(name) or name in RESERVED_NAMES:
                raise serializers.ValidationError(f"{name!r} is not a resource name (a letter, then letters, digits, "
                                                  "'.', '_', '/', '-'; not cpu, mem, memory or gpu).")
            if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_NAMED_AMOUNT:
                raise serializers.ValidationError(f"{name}: must be a whole number from 0 to {MAX_NAMED_AMOUNT}.")
        return {name: amount for name, amount in data.items() if amount}

    def to_representation(self, value):
        return value
# -- end GPUs ----------------------------------------------------------------------------------


_ARRAY_ITEM = "(0|[1-9][0-9]{0,6})(-(0|[1-9][0-9]{0,6})(:[1-9][0-9]{0,6})?)?"


@extend_schema_field({"type": "string", "maxLength": MAX_SPEC_LENGTH,
                      "pattern": f"^{_ARRAY_ITEM}(,{_ARRAY_ITEM})*(%[1-9][0-9]{{0,4}})?$", "example": "0-99%10"})
class ArraySpecField(StrictStringField):
    """An array's index spec (`tasks.batch.array_spec` reads it); the schema carries its syntax. What
    no pattern says (a range that runs backwards, more than MAX_ELEMENTS indices) is a 400 all the
    same."""


class TaskSubmitSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    command = StrictStringField(trim_whitespace=False, allow_blank=False,
                                help_text=f"Run as `/bin/sh -c COMMAND`; at most {MAX_COMMAND_BYTES} bytes.")
    cpu = CoresField(required=False, default=1000, help_text="Cores, fractions allowed (default 1).")
    mem = serializers.IntegerField(required=False, default=256, min_value=1, max_value=MAX_MEM_MIB,
                                   help_text="MiB (default 256).")
    name = StrictStringField(required=False, default="", allow_blank=True, max_length=MAX_NAME_LENGTH)
    priority = serializers.IntegerField(required=False, default=0, min_value=PRIORITY_RANGE[0],
                                        max_value=PRIORITY_RANGE[1], help_text="Higher goes first.")
    max_attempts = serializers.IntegerField(required=False, default=3, min_value=1, max_value=MAX_ATTEMPTS)
    timeout = PositiveSecondsField(required=False, default=None, allow_null=True,
                                   max_value=MAX_TIMEOUT_SECONDS, help_text="Seconds; omit for no limit.")
    env = StringMapField(key_pattern=ENV_NAME, key_help="a shell variable name", reserved_prefix=RESERVED_ENV_PREFIX,
                         required=False, default=dict)
    node_selector = labels_field(required=False, default=dict, help_text="Labels the node must carry.")
    gpu = StrictIntegerField(required=False, default=0, min_value=0, max_value=MAX_GPUS,
                             help_text="Whole GPUs (default 0); the task sees only the devices it is given.")
    resources = NamedResourcesField(required=False, default=dict,
                                    help_text="Named countable resources some node advertises: name -> count.")

    # --- batch workloads (issue 16) ---
    retries = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_RETRIES,
                                       help_text="Extra attempts after the command fails (non-zero exit, "
                                                 "Timeout, OOMKilled).")
    retry_backoff = StrictFloatField(required=False, default=10, min_value=0, max_value=MAX_BACKOFF_SECONDS,
                                     help_text="Seconds before the first retry; doubles each retry.")
    retry_backoff_max = StrictFloatField(required=False, default=600, min_value=0, max_value=MAX_BACKOFF_SECONDS,
                                         help_text="Seconds: the longest wait before a retry.")
    retry_on_exit_codes = serializers.ListField(
        child=StrictIntegerField(min_value=-(2**31), max_value=2**31 - 1), required=False, default=None,
        allow_null=True, max_length=MAX_EXIT_CODES, help_text="Only these exit codes retry (default: any).")
    depends_on = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=2**63 - 1), required=False, default=list,
        max_length=MAX_DEPENDENCIES, help_text="Ids of existing tasks this one waits for.")
    dependency = serializers.ChoiceField(choices=DEPENDENCIES, required=False, default=Dependency.AFTEROK,
                                         help_text="afterok (every dependency SUCCEEDED), afterany (every one "
                                                   "finished) or afternotok (every one FAILED or CANCELLED).")
    array = ArraySpecField(required=False, allow_blank=False, max_length=MAX_SPEC_LENGTH,
                           help_text='Slurm syntax: "0-99", "0-99:2", "1,3,7", with "%N" for at most N '
                                     f"running at once; at most {MAX_ELEMENTS} elements. One task per index.")

    def validate_array(self, value: str) -> ArraySpec:
        try:
            return array_spec.parse(value)
        except array_spec.ArraySpecError as error:
            raise serializers.ValidationError(str(error)) from None
    # --- end batch workloads ---

    def validate_command(self, value: str) -> str:
        _no_nul(value, "The command")
        if not value.strip():
            raise serializers.ValidationError("The command is empty.")
        if len(value.encode()) > MAX_COMMAND_BYTES:
            raise serializers.ValidationError(f"At most {MAX_COMMAND_BYTES} bytes.")
        return value

    def validate_name(self, value: str) -> str:
        return _no_nul(value, "The name")

    def validate_resources(self, value: dict[str, int]) -> dict[str, int]:
        if not value:
            return value
        known = known_resource_names()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise serializers.ValidationError(
                f"No node advertises {', '.join(unknown)}; known: {', '.join(known) if known else 'none'}.")
        return value

    def validate_env(self, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(key for key in value if key.startswith(RESERVED_ENV_PREFIX))
        if reserved:
            raise serializers.ValidationError(f"{', '.join(reserved)}: the SCHEDULER_ prefix is reserved.")
        return value


class TaskSerializer(serializers.Serializer):
    """A task as lists show it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    command = serializers.CharField()
    cpu = serializers.FloatField(help_text="cores")
    mem = serializers.IntegerField(help_text="MiB")
    priority = serializers.IntegerField()
    status = serializers.ChoiceField(choices=choices(TaskStatus))
    status_reason = serializers.CharField()
    status_message = serializers.CharField()
    node = serializers.IntegerField(allow_null=True)
    node_name = serializers.CharField(allow_null=True)
    attempt = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    timeout = serializers.FloatField(allow_null=True)
    exit_code = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    assigned_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    rerun_of = serializers.IntegerField(allow_null=True, help_text="the task this one reruns")
    # batch workloads (issue 16)
    retries = serializers.IntegerField()
    retries_used = serializers.IntegerField()
    retry_backoff = serializers.FloatField()
    retry_backoff_max = serializers.FloatField()
    retry_on_exit_codes = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    lost_attempts = serializers.IntegerField(help_text="attempts lost to infrastructure (bounded by max_attempts)")
    not_before = serializers.DateTimeField(allow_null=True, help_text="while a retry waits: not before this")
    dependency = serializers.CharField()
    array_id = serializers.IntegerField(allow_null=True)
    array_index = serializers.IntegerField(allow_null=True)
    gpu = serializers.IntegerField(help_text="GPUs asked for")
    gpu_devices = serializers.ListField(child=serializers.IntegerField(),
                                        help_text="device indices on its node held by the current or last attempt")
    resources = serializers.DictField(child=serializers.IntegerField(), help_text="named resources asked for")
    owner = serializers.CharField(allow_null=True, help_text="username of the submitter")

    def to_representation(self, instance) -> dict:
        return task_summary(instance)


class TaskEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    time = serializers.DateTimeField()
    attempt = serializers.IntegerField()
    from_status = serializers.CharField(allow_null=True)
    to_status = serializers.CharField()
    node = serializers.IntegerField(allow_null=True)
    node_name = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    message = serializers.CharField()

    def to_representation(self, instance) -> dict:
        return event_summary(instance)


class TaskDetailSerializer(TaskSerializer):
    """A task with what it runs with and its history."""

    env = serializers.DictField(child=serializers.CharField(),
                                help_text="values masked unless you own the task or are an operator")
    private_visible = serializers.BooleanField(help_text="whether you may see env values and output")
    node_selector = serializers.DictField(child=serializers.CharField())
    submitter = serializers.CharField(allow_null=True)
    log_bytes = serializers.IntegerField()
    log_bytes_dropped = serializers.IntegerField()
    events = TaskEventSerializer(many=True)
    depends_on = serializers.ListField(child=serializers.IntegerField())
    dependents = serializers.ListField(child=serializers.IntegerField())
    queue = serializers.DictField(allow_null=True, help_text="PENDING only: position in the queue (1 = next) and "
                                                             "the owner's recent usage (cpu-s), the fair-share figure")

    def to_representation(self, instance) -> dict:
        data = task_summary(instance)
        data.update(dependencies.summary(instance))
        request = self.context.get("request")
        private = request is not None and can_see_private(request.user, instance)
        data.update(
            env=instance.env if private else masked_env(instance.env),
            private_visible=private,
            node_selector=instance.node_selector,
            submitter=instance.submitter.get_username() if instance.submitter else None,
            log_bytes=instance.log_bytes,
            log_bytes_dropped=instance.log_bytes_dropped,
            events=[event_summary(event) for event in instance.events.all()],
            queue=queue_standing(instance),
        )
        return data


# --- batch workloads (issue 16): arrays ---


class TaskArraySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    spec = serializers.CharField()
    size = serializers.IntegerField()
    throttle = serializers.IntegerField(allow_null=True, help_text="at most this many ASSIGNED or RUNNING")
    name = serializers.CharField()
    submitter = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="elements per status")

    def to_representation(self, instance) -> dict:
        return arrays_summary(instance)


class LocalReferenceField(serializers.Field):
    """In a request of several tasks: an existing task's id, or the local `name` of another."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data and len(data) <= MAX_NAME_LENGTH and "\x00" not in data:
            return data
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= 2**63 - 1:
            return data
        raise serializers.ValidationError("Must be a task id or the name of another task in this request.")

    def to_representation(self, value):
        return value


class SubmissionItemSerializer(TaskSubmitSerializer):
    """One item of a request of several (a JSON list): depends_on may name other items."""

    depends_on = serializers.ListField(child=LocalReferenceField(), required=False, default=list,
                                       max_length=MAX_DEPENDENCIES)


def validate_items(data: list) -> list[dict]:
    """Validate every item of a list submission; errors are keyed `[i].field`."""
    from tasks.batch.submissions import MAX_ITEMS

    if not data:
        raise serializers.ValidationError({"non_field_errors": ["An empty list: nothing to submit."]})
    if len(data) > MAX_ITEMS:
        raise serializers.ValidationError({"non_field_errors": [f"At most {MAX_ITEMS} tasks in one request."]})
    items, errors = [], {}
    for i, raw in enumerate(data):
        item = SubmissionItemSerializer(data=raw)
        if item.is_valid():
            fields = dict(item.validated_data)
            if "array" in fields:
                fields["array_text"] = raw["array"]
            items.append(fields)
        else:
            for field, messages in item.errors.items():
                errors[f"[{i}].{field}"] = messages
    if errors:
        raise serializers.ValidationError(errors)
    return items
