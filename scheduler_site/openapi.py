"""The OpenAPI schema (drf-spectacular) told what it cannot guess, so that it matches the answers:
the three token schemes, CPU as a number (or a string holding one), string maps as objects, the
paginated list envelope, and the error answers (one shape: `detail`, `code`, the field at fault).

Loaded by `scheduler_site.apps` (extensions register on import); `postprocess` is the
SPECTACULAR_SETTINGS hook that adds the error responses to every operation."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from scheduler_site.formats import MAX_CORES, MILLICORES_PER_CORE

# A JSON-number-like string, as `formats.parse_cores` reads it.
NUMBER_PATTERN = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def _token_scheme(description: str) -> dict:
    return {"type": "apiKey", "in": "header", "name": "Authorization", "description": description}


class UserTokenScheme(OpenApiAuthenticationExtension):
    target_class = "scheduler_site.authentication.ApiTokenAuthentication"
    name = "userToken"

    def get_security_definition(self, auto_schema):
        return _token_scheme("`Token msu_...`: a user's API token (POST /api/v1/auth/token, or the admin).")


class NodeTokenScheme(OpenApiAuthenticationExtension):
    target_class = "scheduler_site.authentication.NodeTokenAuthentication"
    name = "nodeToken"

    def get_security_definition(self, auto_schema):
        return _token_scheme("`Token msn_...`: a node's token, given at registration; acts only for its node.")


class JoinTokenScheme(OpenApiAuthenticationExtension):
    target_class = "scheduler_site.authentication.JoinTokenAuthentication"
    name = "joinToken"

    def get_security_definition(self, auto_schema):
        return _token_scheme("`Token <SCHEDULER_JOIN_TOKEN>`: the cluster join token; registration only.")


class CoresFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "tasks.serializers.CoresField"

    def map_serializer_field(self, auto_schema, direction):
        step = 1 / MILLICORES_PER_CORE
        return {
            "oneOf": [
                {"type": "number", "minimum": step, "maximum": MAX_CORES},
                {"type": "string", "pattern": NUMBER_PATTERN},
            ],
            "description": f"cores, a number or a string holding one: at least {step:g} (1 millicore), at most "
                           f"{MAX_CORES}, at most three decimals",
        }


class StringMapFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "tasks.serializers.StringMapField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "object", "additionalProperties": {"type": "string"},
                "maxProperties": self.target.max_entries,
                "description": f"string keys ({self.target.key_help}) to string values"}


def paginated(item: serializers.Serializer, name: str, *, cursor: bool = False) -> serializers.Serializer:
    """The list envelope `scheduler_site.pagination` answers with, around `item` rows."""
    fields: dict[str, serializers.Field] = {
        "count": serializers.IntegerField(allow_null=cursor, help_text="null with ?cursor="),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item.__class__(many=True),
    }
    if cursor:
        fields["next_cursor"] = serializers.CharField(required=False, allow_null=True,
                                                      help_text="with ?cursor=: the cursor of the next page")
    return inline_serializer(name, fields)


ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "string"}, {"type": "object"}]},
    "description": "`detail` says what went wrong; a field at fault is a key holding its messages.",
}
WHY = {
    "400": "Bad input: the field at fault is named.",
    "401": "No credentials, or credentials not valid here.",
    "403": "Signed in but not allowed.",
    "404": "No such object (or no such page of a list).",
    "405": "Method not allowed.",
    "409": "Conflicts with the object's state.",
    "415": "The body is not JSON.",
    "422": "The Idempotency-Key was used for a different request.",
    "429": "Too many failed sign-ins: wait (Retry-After) and try again.",
}
# Besides 400/401/403 (and 404 on routes with an id), what each operation can answer.
EXTRA: dict[tuple[str, str], tuple[str, ...]] = {
    ("get", "/api/v1/tasks/"): ("404",),
    ("get", "/api/v1/nodes/"): ("404",),
    ("post", "/api/v1/tasks/"): ("415", "422"),
    ("post", "/api/v1/tasks/{id}/cancel/"): ("409",),
    ("post", "/api/v1/tasks/{id}/rerun/"): ("409",),
    ("post", "/api/v1/internal/register/"): ("409", "415"),
    ("post", "/api/v1/internal/nodes/{id}/heartbeat/"): ("415",),
    ("post", "/api/v1/auth/token/"): ("415", "429"),
    ("post", "/api/v1/auth/login/"): ("415", "429"),
}


def postprocess(result: dict, generator, request, public) -> dict:
    """Every operation declares the errors it can answer, in the API's error shape."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = ["400", "401", "403", "405"]
            if re.search(r"\{[^}]+\}", path):
                codes.append("404")
            codes.extend(EXTRA.get((method, path), ()))
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": WHY[code], "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    return result
