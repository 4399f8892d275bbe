"""Fixtures for the API tests: fast password hashing, a fresh login throttle, agents' clients."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from tests import builders
from tests.api.support import client_with


@pytest.fixture(scope="package", autouse=True)
def fast_password_hashing():
    """These tests create a user or two each; PBKDF2's deliberate slowness would cost a minute."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def fresh_throttle():
    """The login throttle counts in the cache; each test starts with none of its neighbours' tries."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def joiner(settings) -> APIClient:
    """An agent presenting the cluster join token."""
    return client_with(settings.SCHEDULER_JOIN_TOKEN)


@pytest.fixture
def node_a(db):
    """A registered node and its agent's client (node token)."""
    created, token = builders.node_with_token("node-a", cpu=4, mem=8192)
    return created, client_with(token)


@pytest.fixture
def node_b(db):
    created, token = builders.node_with_token("node-b", cpu=4, mem=8192)
    return created, client_with(token)
