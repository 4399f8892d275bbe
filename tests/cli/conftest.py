"""The user's environment for schedctl: the cluster's master and a token, a config dir of its own."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def user_env(cluster, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env.update(SCHEDULER_URL=cluster.url, SCHEDULER_TOKEN=cluster.token, XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env
