"""The OpenAPI schema matches the answers: schemathesis generates requests from the schema the
master serves (a few examples per operation) and validates every answer against it, in process,
on the store the run uses (SQLite by default, PostgreSQL with DATABASE_URL).

Every check runs but one: `positive_data_acceptance` (a request the schema allows must be
accepted) needs the schema to say every rule the API enforces, and OpenAPI 3.0 cannot say some of
them (env names as `propertyNames`, sizes in UTF-8 bytes, the reserved SCHEDULER_ prefix, a
command that is not only whitespace); the opposite check, `negative_data_rejection` (a request
the schema forbids must be refused), runs."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from scheduler_site.models import ApiToken
from tests.conftest import make_user

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()


@pytest.fixture
def caller(db) -> dict[str, str]:
    """A user allowed everything, by token; requests keep the test's connection (as Django's test
    client does: no closing of connections at each request's start and end)."""
    user = make_user("schema-operator", "tasks.add_task", "tasks.change_task", "nodes.change_node")
    _, token = ApiToken.issue(user=user)
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": f"Token {token}"}
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_its_schema_says(case, caller):
    case.call_and_validate(headers=caller, excluded_checks=[positive_data_acceptance])
