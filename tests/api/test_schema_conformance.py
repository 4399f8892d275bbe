"""The OpenAPI schema matches the answers: schemathesis generates requests from the schema the
master serves (a few examples per operation) and validates every answer against it, in process,
on the store the run uses (SQLite by default, PostgreSQL with DATABASE_URL).

Every check runs, with two exceptions where no schema can say what the API accepts:
`positive_data_acceptance` (a request the schema allows must be accepted) is not run on the
sign-in operations, whose schema-valid requests carry credentials that do not exist (refused with
400, as invalid credentials are), nor on the metrics history, whose parameters are relative to
now and to the nodes that exist (`since` in the future, an unknown node: 400). Nor on the submit and the
dry run: `depends_on` names tasks that must exist (an unknown id is a 400). They run every other
check, with a node that advertises the schema's example of a named resource (`matlab`)."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from nodes.services import register_node
from scheduler_site.idempotency import HEADER
from scheduler_site.models import ApiToken
from tests.conftest import make_user

NOT_DESCRIBABLE = {"POST /api/v1/auth/token/", "POST /api/v1/auth/login/", "GET /api/v1/metrics/history/",
                   "POST /api/v1/tasks/", "POST /api/v1/tasks/plan/"}
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()


@pytest.fixture
def caller(db) -> dict[str, str]:
    """A user allowed everything, by token; requests keep the test's connection (as Django's test
    client does: no closing of connections at each request's start and end)."""
    user = make_user("schema-operator", "tasks.add_task", "tasks.change_task", "nodes.change_node")
    register_node(name="licensed", cpu=64000, mem=262144, labels={}, agent_info={}, resources={"matlab": 4})
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
    if case.headers and HEADER in case.headers and case.meta and case.meta.generation.mode.is_positive:
        # A well-formed key the generator happened to use before, with another body, is a 422 by
        # design (tests/api/test_idempotency.py); each generated request gets a key of its own.
        case.headers[HEADER] = str(uuid.uuid4())
    excluded = [positive_data_acceptance] if case.operation.label in NOT_DESCRIBABLE else []
    case.call_and_validate(headers=caller, excluded_checks=excluded)
