"""schedctl's batch workloads against a real master and agent: spec files with local names, Slurm's
--array/--retries/--dependency, `array`, `cancel --array` and `plan`."""

from __future__ import annotations

import json

import pytest

from schedctl.api import CliError
from schedctl.batch import parse_dependency
from tests.cli.test_schedctl import schedctl

pytestmark = [pytest.mark.timeout(180)]

JOB = """\
name: prepare
command: echo prepare
cpu: 0.1
mem: 16
---
- name: sweep
  command: echo point $SCHEDULER_ARRAY_INDEX
  array: "0-3%2"
  cpu: 0.1
  mem: 16
  depends_on: [prepare]
- name: report
  command: echo report
  cpu: 0.1
  mem: 16
  dependency: afterany
  depends_on: [sweep]
"""


def test_a_spec_file_with_local_names_runs_in_order(cluster, user_env, tmp_path):
    cluster.start_agent("worker-1", cpu=4)
    (tmp_path / "job.yaml").write_text(JOB)
    done = schedctl("--json", "submit", "-f", str(tmp_path / "job.yaml"), env=user_env)
    assert done.returncode == 0, done.stderr
    prepare, sweep, report = json.loads(done.stdout)
    assert sweep["array"]["size"] == 4
    finished = cluster.wait_task(report["id"], "SUCCEEDED", timeout=60)
    assert sorted(finished["depends_on"]) == sorted(t["id"] for t in sweep["tasks"])
    elements = [cluster.task(t["id"]) for t in sweep["tasks"]]
    assert all(e["status"] == "SUCCEEDED" and e["started_at"] >= cluster.task(prepare["id"])["finished_at"]
               for e in elements)
    shown = schedctl("array", str(sweep["array"]["id"]), env=user_env)
    assert shown.stdout.strip() == f"array {sweep['array']['id']} (0-3%2 %2, 4 tasks): SUCCEEDED 4"


def test_array_retries_dependency_cancel_and_plan_flags(cluster, user_env):
    cluster.start_agent("worker-1", cpu=1.5, mem=1024)
    first = schedctl("--json", "submit", "--cpu", "1", "--mem", "16", "--", "sleep 60", env=user_env)
    blocker = json.loads(first.stdout)
    cluster.wait_task(blocker["id"], "RUNNING")
    done = schedctl("submit", "--cpu", "0.1", "--mem", "16", "--array", "0-9%3", "--retries", "3",
                    "--dependency", f"afterok:{blocker['id']}", "--", "true", env=user_env)
    assert done.returncode == 0, done.stderr
    array_id = int(done.stdout.split()[1].rstrip(":"))
    listed = cluster.api.get(f"{cluster.url}/api/v1/tasks?array={array_id}&page_size=100").json()["results"]
    assert {(t["retries"], t["dependency"], t["status_reason"]) for t in listed} == {(3, "afterok", "Dependency")}
    cancelled = schedctl("cancel", "--array", str(array_id), env=user_env)
    assert cancelled.returncode == 0 and "CANCELLED 10" in cancelled.stdout, cancelled.stdout

    plan = schedctl("plan", "--cpu", "1", "--mem", "16", "--", "true", env=user_env)
    assert plan.returncode == 1  # nowhere to go now
    assert plan.stdout.splitlines() == ["Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.",
                                        "  no worker-1  Insufficient cpu"]
    plan = schedctl("plan", "--cpu", "0.5", "--mem", "16", "--", "true", env=user_env)
    assert plan.returncode == 0 and plan.stdout.splitlines()[1] == "  -> worker-1"
    bad = schedctl("submit", "--array", "0-9%0", "--", "true", env=user_env)
    assert bad.returncode == 1 and "array:" in bad.stderr
    schedctl("cancel", str(blocker["id"]), env=user_env)


@pytest.mark.parametrize(("text", "expected"), [
    ("afterok:12:13", ("afterok", [12, 13])), ("afterany:7", ("afterany", [7])),
    ("afternotok:1,2", ("afternotok", [1, 2])), ("12:13", ("afterok", [12, 13])),
])
def test_slurm_dependency_spelling(text, expected):
    assert parse_dependency(text) == expected


@pytest.mark.parametrize("text", ["after:1", "afterok", "afterok:x", "singleton"])
def test_bad_dependency_spelling(text):
    with pytest.raises(CliError):
        parse_dependency(text)
