"""schedctl for many users (issue 17), a separate process against a real master: whoami, quota
show, the --user filter, and a refused action on another user's task."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group

from scheduler_site.models import ApiToken
from tasks.models import Quota
from tests.cli.test_schedctl import schedctl
from tests.conftest import make_user

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def env_for(cluster, user, tmp_path) -> dict[str, str]:
    _, token = ApiToken.issue(user=user)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env.update(SCHEDULER_URL=cluster.url, SCHEDULER_TOKEN=token, XDG_CONFIG_HOME=str(tmp_path / user.username))
    return env


def test_whoami_quota_show_user_filter_and_private_env(cluster, tmp_path):
    alice, bob = make_user("alice", "tasks.add_task"), make_user("bob", "tasks.add_task")
    team = Group.objects.create(name="physics")
    team.user_set.add(alice)
    Quota.objects.create(user=alice, limits={"cpu": 4}, max_pending=10)
    Quota.objects.create(group=team, max_running=3)
    as_alice, as_bob = env_for(cluster, alice, tmp_path), env_for(cluster, bob, tmp_path)

    me = schedctl("whoami", env=as_alice)
    assert me.returncode == 0, me.stderr
    assert me.stdout.startswith("alice\n") and "physics" in me.stdout and "recent usage:  0 cpu-s" in me.stdout

    shown = schedctl("quota", "show", env=as_alice)
    assert shown.returncode == 0, shown.stderr
    assert "alice: cpu 0/4, pending 0/10" in shown.stdout and "group physics: running 0/3" in shown.stdout
    assert schedctl("quota", "show", env=as_bob).stdout.strip() == "no quota applies"

    submitted = schedctl("submit", "--cpu", "0.5", "--mem", "32", "--env", "TOKEN=s3cret", "--", "sleep", "300",
                         env=as_alice)
    task_id = int(submitted.stdout.split()[1])
    mine = schedctl("tasks", "--user", "me", env=as_alice)
    assert str(task_id) in mine.stdout and "alice" in mine.stdout
    assert str(task_id) not in schedctl("tasks", "--user", "bob", env=as_alice).stdout
    assert "TOKEN=s3cret" in schedctl("show", str(task_id), env=as_alice).stdout
    theirs = schedctl("show", str(task_id), env=as_bob)
    assert "TOKEN=********" in theirs.stdout and "s3cret" not in theirs.stdout
    refused = schedctl("logs", str(task_id), env=as_bob)
    assert refused.returncode != 0 and "owner" in refused.stderr
    assert schedctl("cancel", str(task_id), env=as_bob).returncode == 1
    assert schedctl("cancel", str(task_id), env=as_alice).returncode == 0
