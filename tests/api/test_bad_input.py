"""Bad input gets a 4xx naming the field at fault, never a 500, and writes nothing (DESIGN.md, principle 7)."""

from __future__ import annotations

import pytest

from nodes.models import Node
from tasks.models import Task, TaskEvent, TaskStatus
from tests import builders
from tests.api.support import post_raw, row_counts

pytestmark = pytest.mark.django_db


class Raw(str):
    """A request body sent exactly as written (what `format="json"` cannot produce)."""


def send(client, path: str, body):
    if isinstance(body, Raw):
        return post_raw(client, path, body)
    return client.post(path, body, format="json")


def submit(**fields) -> dict:
    return {"command": "true", **fields}


def bad(case_id: str, body, field: str):
    return pytest.param(body, field, id=case_id)


SUBMISSIONS = [
    bad("cpu-negative", submit(cpu=-1), "cpu"),
    bad("cpu-zero", submit(cpu=0), "cpu"),
    bad("cpu-zero-string", submit(cpu="0.000"), "cpu"),
    bad("cpu-non-numeric", submit(cpu="lots"), "cpu"),
    bad("cpu-boolean", submit(cpu=True), "cpu"),
    bad("cpu-null", submit(cpu=None), "cpu"),
    bad("cpu-list", submit(cpu=[1]), "cpu"),
    bad("cpu-object", submit(cpu={"cores": 1}), "cpu"),
    bad("cpu-NaN-string", submit(cpu="NaN"), "cpu"),
    bad("cpu-Infinity-string", submit(cpu="Infinity"), "cpu"),
    bad("cpu-minus-Infinity-string", submit(cpu="-Infinity"), "cpu"),
    bad("cpu-four-decimals", submit(cpu=0.1234), "cpu"),
    bad("cpu-below-a-millicore", submit(cpu=0.0001), "cpu"),
    bad("cpu-four-decimals-string", submit(cpu="1.0005"), "cpu"),
    bad("cpu-underscore-digits", submit(cpu="1_0"), "cpu"),
    bad("cpu-non-ascii-digits", submit(cpu="\u0663"), "cpu"),
    bad("cpu-hex", submit(cpu="0x10"), "cpu"),
    bad("cpu-too-many-cores", submit(cpu=100000), "cpu"),
    bad("cpu-below-a-millicore-tiny-exponent-string", submit(cpu="1e-999999999"), "cpu"),
    bad("cpu-below-a-millicore-tiny-exponent-number", Raw('{"command": "true", "cpu": 1e-999999999}'), "cpu"),
    bad("cpu-finer-than-a-millicore-string", submit(cpu="1.0000000000000000000000000001"), "cpu"),
    bad("cpu-finer-than-a-millicore-number", Raw('{"command": "true", "cpu": 1.0000000000000000000000000001}'),
        "cpu"),
    bad("cpu-huge-exponent-string", submit(cpu="1e999999999"), "cpu"),
    bad("cpu-huge-exponent-number", Raw('{"command": "true", "cpu": 1e999999999}'), "cpu"),
    bad("cpu-exponent-of-5000-digits", submit(cpu="1e-" + "9" * 5000), "cpu"),
    bad("cpu-5000-digits-string", submit(cpu="1" * 5000), "cpu"),
    bad("cpu-5000-digits-number", Raw('{"command": "true", "cpu": ' + "1" * 5000 + "}"), "detail"),
    bad("cpu-5000-decimals-string", submit(cpu="0." + "0" * 4999 + "1"), "cpu"),
    bad("mem-negative", submit(mem=-1), "mem"),
    bad("mem-zero", submit(mem=0), "mem"),
    bad("mem-non-numeric", submit(mem="lots"), "mem"),
    bad("mem-boolean", submit(mem=True), "mem"),
    bad("mem-fractional", submit(mem=1.5), "mem"),
    bad("mem-null", submit(mem=None), "mem"),
    bad("mem-NaN-string", submit(mem="NaN"), "mem"),
    bad("mem-Infinity-string", submit(mem="Infinity"), "mem"),
    bad("mem-huge", submit(mem=10**30), "mem"),
    bad("command-missing", {"cpu": 1}, "command"),
    bad("command-empty", submit(command=""), "command"),
    bad("command-whitespace", submit(command=" \n\t "), "command"),
    bad("command-number", submit(command=42), "command"),
    bad("command-list", submit(command=["ls", "-l"]), "command"),
    bad("command-object", submit(command={"sh": "ls"}), "command"),
    bad("command-boolean", submit(command=True), "command"),
    bad("command-null", submit(command=None), "command"),
    bad("command-NUL", submit(command="echo a\x00b"), "command"),
    bad("command-lone-surrogate", Raw('{"command": "echo \\ud800"}'), "command"),
    bad("command-over-64KiB", submit(command="x" * (64 * 1024 + 1)), "command"),
    bad("command-over-64KiB-in-bytes", submit(command="\u00e9" * (32 * 1024 + 1)), "command"),
    bad("name-NUL", submit(name="a\x00b"), "name"),
    bad("name-number", submit(name=7), "name"),
    bad("name-too-long", submit(name="n" * 201), "name"),
    bad("env-NUL-value", submit(env={"A": "a\x00b"}), "env"),
    bad("env-lone-surrogate-value", Raw('{"command": "true", "env": {"A": "\\udfff"}}'), "env"),
    bad("env-list", submit(env=["A=1"]), "env"),
    bad("env-string", submit(env="A=1"), "env"),
    bad("env-number-value", submit(env={"A": 1}), "env"),
    bad("env-null-value", submit(env={"A": None}), "env"),
    bad("env-nested-value", submit(env={"A": {"B": "c"}}), "env"),
    bad("env-bad-name", submit(env={"1A": "x"}), "env"),
    bad("env-name-with-newline", submit(env={"A\n": "x"}), "env"),
    bad("env-reserved-prefix", submit(env={"SCHEDULER_TASK": "x"}), "env"),
    bad("node_selector-list", submit(node_selector=["disk=ssd"]), "node_selector"),
    bad("node_selector-string", submit(node_selector="disk=ssd"), "node_selector"),
    bad("node_selector-number-value", submit(node_selector={"disk": 1}), "node_selector"),
    bad("node_selector-boolean-value", submit(node_selector={"gpu": True}), "node_selector"),
    bad("node_selector-NUL-value", submit(node_selector={"disk": "s\x00d"}), "node_selector"),
    bad("node_selector-lone-surrogate-value", Raw('{"command": "true", "node_selector": {"a": "\\ud800"}}'),
        "node_selector"),
    bad("node_selector-bad-key", submit(node_selector={"bad key": "x"}), "node_selector"),
    bad("max_attempts-zero", submit(max_attempts=0), "max_attempts"),
    bad("max_attempts-negative", submit(max_attempts=-1), "max_attempts"),
    bad("max_attempts-non-numeric", submit(max_attempts="many"), "max_attempts"),
    bad("max_attempts-boolean", submit(max_attempts=True), "max_attempts"),
    bad("timeout-zero", submit(timeout=0), "timeout"),
    bad("timeout-negative", submit(timeout=-5), "timeout"),
    bad("timeout-non-numeric", submit(timeout="soon"), "timeout"),
    bad("timeout-boolean", submit(timeout=True), "timeout"),
    bad("timeout-NaN-string", submit(timeout="NaN"), "timeout"),
    bad("timeout-underscore-digits", submit(timeout="1_0"), "timeout"),
    bad("priority-out-of-range", submit(priority=10**6), "priority"),
    bad("unknown-field", submit(memory=512), "memory"),
    bad("unknown-field-typo", submit(cpus=2), "cpus"),
    # -- GPUs (issue 19)
    bad("gpu-negative", submit(gpu=-1), "gpu"),
    bad("gpu-fractional", submit(gpu=1.5), "gpu"),
    bad("gpu-float-whole", submit(gpu=2.0), "gpu"),
    bad("gpu-string", submit(gpu="2"), "gpu"),
    bad("gpu-boolean", submit(gpu=True), "gpu"),
    bad("gpu-null", submit(gpu=None), "gpu"),
    bad("gpu-huge", submit(gpu=10**6), "gpu"),
    bad("gpu-typo", submit(gpus=1), "gpus"),
]


@pytest.mark.parametrize("body, field", SUBMISSIONS)
def test_a_bad_submission_is_a_400_naming_the_field_and_writes_nothing(api, body, field):
    counts = row_counts()

    response = send(api, "/api/v1/tasks", body)

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert row_counts() == counts


UNREADABLE_BODIES = [
    pytest.param(Raw('{"command": "true", "cpu": '), "detail", id="broken-json"),
    pytest.param(Raw('{"command": "true",}'), "detail", id="trailing-comma"),
    pytest.param(Raw('{"command": "true", "cpu": NaN}'), "detail", id="bare-NaN"),
    pytest.param(Raw('{"command": "true", "mem": Infinity}'), "detail", id="bare-Infinity"),
    pytest.param(Raw('{"command": "true", "cpu": -Infinity}'), "detail", id="bare-minus-Infinity"),
    pytest.param(Raw("[]"), "non_field_errors", id="json-list"),
    pytest.param(Raw('["true"]'), "non_field_errors", id="json-list-of-command"),
    pytest.param(Raw('"true"'), "non_field_errors", id="json-string"),
    pytest.param(Raw("42"), "non_field_errors", id="json-number"),
    pytest.param(Raw("null"), "non_field_errors", id="json-null"),
]


@pytest.mark.parametrize("body, key", UNREADABLE_BODIES)
@pytest.mark.parametrize("path, client", [("/api/v1/tasks", "api"), ("/api/v1/internal/register", "joiner")])
def test_a_body_that_is_not_a_json_object_is_a_400_and_writes_nothing(request, path, client, body, key):
    caller = request.getfixturevalue(client)
    counts = row_counts()

    response = send(caller, path, body)

    if path == "/api/v1/tasks" and body == Raw('["true"]'):
        key = "[0].non_field_errors"  # a JSON list is a batch submit: the item at fault is named
    assert response.status_code == 400, response.content
    assert key in response.json()
    assert row_counts() == counts


def test_invalid_utf8_is_a_400(api):
    response = post_raw(api, "/api/v1/tasks", b'{"command": "\xff\xfe"}')

    assert response.status_code == 400
    assert Task.objects.count() == 0


def test_a_body_that_is_not_json_at_all_is_refused_as_unsupported(api):
    response = post_raw(api, "/api/v1/tasks", "command=true", content_type="text/plain")

    assert response.status_code == 415
    assert Task.objects.count() == 0


def test_deeply_nested_json_is_a_400_not_a_500(api):
    api.raise_request_exception = False
    depth = 5000

    response = post_raw(api, "/api/v1/tasks", '{"command": "true", "env": ' + "[" * depth + "]" * depth + "}")

    assert response.status_code == 400


def register(**fields) -> dict:
    return {"name": "worker-1", "cpu": 2, "mem": 1024, **fields}


REGISTRATIONS = [
    bad("name-missing", {"cpu": 2, "mem": 1024}, "name"),
    bad("name-empty", register(name=""), "name"),
    bad("name-with-space", register(name="worker 1"), "name"),
    bad("name-leading-dash", register(name="-worker"), "name"),
    bad("name-number", register(name=1), "name"),
    bad("name-NUL", register(name="w\x00"), "name"),
    bad("name-too-long", register(name="w" * 254), "name"),
    bad("cpu-zero", register(cpu=0), "cpu"),
    bad("cpu-negative", register(cpu=-2), "cpu"),
    bad("cpu-non-numeric", register(cpu="many"), "cpu"),
    bad("cpu-boolean", register(cpu=True), "cpu"),
    bad("cpu-four-decimals", register(cpu=1.0001), "cpu"),
    bad("cpu-below-a-millicore-tiny-exponent", register(cpu="1e-999999999"), "cpu"),
    bad("cpu-below-a-millicore-number", Raw('{"name": "w", "cpu": 1e-999999999, "mem": 1}'), "cpu"),
    bad("cpu-finer-than-a-millicore", register(cpu="1.0000000000000000000000000001"), "cpu"),
    bad("cpu-finer-than-a-millicore-number", Raw('{"name": "w", "cpu": 1.0000000000000000000000000001, "mem": 1}'),
        "cpu"),
    bad("cpu-missing", {"name": "worker-1", "mem": 1024}, "cpu"),
    bad("mem-zero", register(mem=0), "mem"),
    bad("mem-negative", register(mem=-1), "mem"),
    bad("mem-non-numeric", register(mem="lots"), "mem"),
    bad("mem-boolean", register(mem=False), "mem"),
    bad("labels-list", register(labels=["a"]), "labels"),
    bad("labels-number-value", register(labels={"zone": 1}), "labels"),
    bad("labels-NUL-value", register(labels={"zone": "e\x00u"}), "labels"),
    bad("labels-lone-surrogate-value", Raw('{"name": "w", "cpu": 1, "mem": 1, "labels": {"a": "\\ud800"}}'),
        "labels"),
    bad("agent-string", register(agent="v1"), "agent"),
    bad("agent-NUL", register(agent={"hostname": "h\x00"}), "agent"),
    bad("agent-NUL-in-a-key", register(agent={"a\x00": "h"}), "agent"),
    bad("agent-nested-NUL", register(agent={"os": {"release": ["x\x00"]}}), "agent"),
    bad("agent-lone-surrogate", Raw('{"name": "w", "cpu": 1, "mem": 1, "agent": {"a": ["\\ud800"]}}'), "agent"),
    bad("agent-too-big", register(agent={"blob": "x" * 5000}), "agent"),
    bad("node_token-number", register(node_token=5), "node_token"),
    bad("unknown-field", register(gpu_count=1), "gpu_count"),
    # -- GPUs (issue 19)
    bad("gpus-number", register(gpus=2), "gpus"),
    bad("gpus-strings", register(gpus=["0"]), "gpus"),
    bad("gpus-no-index", register(gpus=[{"uuid": "GPU-a"}]), "gpus"),
    bad("gpus-negative-index", register(gpus=[{"index": -1}]), "gpus"),
    bad("gpus-index-too-big", register(gpus=[{"index": 10**9}]), "gpus"),
    bad("gpus-duplicate-index", register(gpus=[{"index": 0}, {"index": 0}]), "gpus"),
    bad("gpus-unknown-key", register(gpus=[{"index": 0, "colour": "green"}]), "gpus"),
    bad("gpus-model-number", register(gpus=[{"index": 0, "model": 5}]), "gpus"),
    bad("gpus-model-control-chars", register(gpus=[{"index": 0, "model": "a\x00b"}]), "gpus"),
    bad("gpus-memory-negative", register(gpus=[{"index": 0, "memory": -1}]), "gpus"),
    bad("gpus-too-many", register(gpus=[{"index": i} for i in range(300)]), "gpus"),
    bad("gpus-lone-surrogate", Raw('{"name": "w", "cpu": 1, "mem": 1, "gpus": [{"index": 0, "uuid": "\\ud800"}]}'),
        "gpus"),
]


@pytest.mark.parametrize("body, field", REGISTRATIONS)
def test_a_bad_registration_is_a_400_naming_the_field_and_writes_nothing(joiner, body, field):
    counts = row_counts()

    response = send(joiner, "/api/v1/internal/register", body)

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert row_counts() == counts


def report(**fields) -> dict:
    return {"task": 1, "attempt": 1, "state": "running", **fields}


HEARTBEATS = [
    bad("cpu_usage-negative", {"cpu_usage": -1}, "cpu_usage"),
    bad("cpu_usage-over-100", {"cpu_usage": 100.5}, "cpu_usage"),
    bad("cpu_usage-non-numeric", {"cpu_usage": "busy"}, "cpu_usage"),
    bad("cpu_usage-boolean", {"cpu_usage": True}, "cpu_usage"),
    bad("cpu_usage-NaN-string", {"cpu_usage": "NaN"}, "cpu_usage"),
    bad("mem_usage-negative", {"mem_usage": -0.1}, "mem_usage"),
    bad("mem_usage-Infinity-string", {"mem_usage": "Infinity"}, "mem_usage"),
    bad("tasks-not-a-list", {"tasks": "none"}, "tasks"),
    bad("report-not-an-object", {"tasks": ["running"]}, "tasks"),
    bad("report-missing-attempt", {"tasks": [{"task": 1, "state": "running"}]}, "tasks"),
    bad("report-attempt-zero", {"tasks": [report(attempt=0)]}, "tasks"),
    bad("report-task-not-a-number", {"tasks": [report(task="one")]}, "tasks"),
    bad("report-unknown-state", {"tasks": [report(state="sleeping")]}, "tasks"),
    bad("report-exited-without-code", {"tasks": [report(state="exited")]}, "tasks"),
    bad("report-exit-code-out-of-range", {"tasks": [report(state="exited", exit_code=1000)]}, "tasks"),
    bad("report-unknown-reason", {"tasks": [report(state="exited", exit_code=1, reason="bored")]}, "tasks"),
    bad("report-NUL-message", {"tasks": [report(message="a\x00")]}, "tasks"),
    bad("report-unknown-field", {"tasks": [report(colour="red")]}, "tasks"),
    bad("unknown-field", {"load": 1}, "load"),
    bad("gpu_usage-not-a-list", {"gpu_usage": {"0": 50}}, "gpu_usage"),
    bad("gpu_usage-util-over-100", {"gpu_usage": [{"index": 0, "util": 101}]}, "gpu_usage"),
    bad("gpu_usage-Infinity-string", {"gpu_usage": [{"index": 0, "mem_used": "Infinity"}]}, "gpu_usage"),
    bad("gpu_usage-too-many", {"gpu_usage": [{"index": i} for i in range(65)]}, "gpu_usage"),
    bad("json-list", Raw("[]"), "non_field_errors"),
    bad("broken-json", Raw('{"cpu_usage": '), "detail"),
]


@pytest.mark.parametrize("body, field", HEARTBEATS)
def test_a_bad_heartbeat_is_a_400_naming_the_field_and_changes_nothing(node_a, body, field):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node)
    counts = row_counts()

    response = send(agent, f"/api/v1/internal/nodes/{node.pk}/heartbeat", body)

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert row_counts() == counts
    fresh = Node.objects.get(pk=node.pk)
    assert (fresh.last_heartbeat, fresh.cpu_usage, fresh.mem_usage) == (node.last_heartbeat, None, None)
    assert Task.objects.get(pk=running.pk).status == TaskStatus.RUNNING


QUERIES = [
    pytest.param("/api/v1/tasks?status=BOGUS", "status", id="tasks-unknown-status"),
    pytest.param("/api/v1/tasks?status=RUNNING,NOPE", "status", id="tasks-one-unknown-status-of-two"),
    pytest.param("/api/v1/tasks?status=%00", "status", id="tasks-status-NUL"),
    pytest.param("/api/v1/tasks?node=a%00b", "node", id="tasks-node-NUL"),
    pytest.param("/api/v1/nodes?status=BUSY", "status", id="nodes-unknown-status"),
    pytest.param("/api/v1/tasks/{task}/logs?after=abc", "after", id="logs-after-non-numeric"),
    pytest.param("/api/v1/tasks/{task}/logs?after=-2", "after", id="logs-after-below-minus-one"),
    pytest.param("/api/v1/tasks/{task}/logs?after=1.5", "after", id="logs-after-fractional"),
    pytest.param("/api/v1/tasks/{task}/logs?after=" + "9" * 30, "after", id="logs-after-huge"),
    pytest.param("/api/v1/tasks/{task}/logs?after=" + "9" * 5000, "after", id="logs-after-5000-digits"),
    pytest.param("/api/v1/tasks/{task}/logs?attempt=" + "9" * 5000, "attempt", id="logs-attempt-5000-digits"),
    pytest.param("/api/v1/tasks/{task}/logs?limit=" + "9" * 5000, "limit", id="logs-limit-5000-digits"),
    pytest.param("/api/v1/tasks?cursor=" + "9" * 5000, "cursor", id="tasks-cursor-5000-digits"),
    pytest.param("/api/v1/tasks/{task}/logs?attempt=x", "attempt", id="logs-attempt-non-numeric"),
    pytest.param("/api/v1/tasks/{task}/logs?attempt=-1", "attempt", id="logs-attempt-negative"),
    pytest.param("/api/v1/tasks/{task}/logs?limit=0", "limit", id="logs-limit-zero"),
    pytest.param("/api/v1/tasks/{task}/logs?limit=abc", "limit", id="logs-limit-non-numeric"),
    pytest.param("/api/v1/tasks/{task}/logs?limit=5001", "limit", id="logs-limit-over-max"),
    pytest.param("/api/v1/tasks/{task}/logs/raw?attempt=x", "attempt", id="raw-attempt-non-numeric"),
]


@pytest.mark.parametrize("path, field", QUERIES)
def test_a_bad_query_parameter_is_a_400_naming_it(api, path, field):
    task = builders.task()

    response = api.get(path.format(task=task.pk))

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_a_page_size_of_any_length_means_the_largest_page(api):
    builders.task()

    response = api.get("/api/v1/tasks?page_size=" + "9" * 5000)

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 1


ID_ROUTES = [("get", "/api/v1/tasks/{}"), ("post", "/api/v1/tasks/{}/cancel"), ("post", "/api/v1/tasks/{}/rerun"),
             ("get", "/api/v1/tasks/{}/logs"), ("get", "/api/v1/tasks/{}/logs/raw"), ("get", "/api/v1/nodes/{}"),
             ("post", "/api/v1/nodes/{}/drain"), ("post", "/api/v1/nodes/{}/undrain")]
BAD_IDS = ["abc", "-1", "0", "1" * 30, "9223372036854775808", "1.0", "1e3", "%20", "%EF%BC%91", "999999",
           "1" * 4301, "9" * 100_000, "0" * 5000]


@pytest.mark.parametrize("pk", BAD_IDS)
@pytest.mark.parametrize("method, route", ID_ROUTES)
def test_an_unknown_or_malformed_id_is_a_404(api, method, route, pk):
    builders.task_in(TaskStatus.PENDING)
    builders.node("node-a")
    counts = row_counts()

    response = getattr(api, method)(route.format(pk))

    assert response.status_code == 404, response.content
    assert "not found" in response.json()["detail"]
    assert row_counts() == counts


@pytest.mark.parametrize("status", [TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_cancelling_a_finished_task_is_a_409_and_changes_nothing(api, status):
    finished = builders.task_in(status, on=builders.node("node-a"))
    events = TaskEvent.objects.filter(task=finished).count()

    response = api.post(f"/api/v1/tasks/{finished.pk}/cancel")

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "invalid_transition"
    assert status in response.json()["detail"]
    assert Task.objects.get(pk=finished.pk).status == status
    assert TaskEvent.objects.filter(task=finished).count() == events
