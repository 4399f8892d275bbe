"""GPUs at the API (issue 19): tasks take `gpu` (a whole number, default 0) and show the devices
their attempt holds; nodes show GPU capacity, allocated, free and their devices; agents register
their devices. Bad values are a 400 naming the field and write nothing."""

from __future__ import annotations

import pytest

from nodes.models import Node
from tests import builders

pytestmark = pytest.mark.django_db


def test_a_gpu_task_is_placed_on_the_gpu_node_and_shows_its_devices(api):
    builders.node("cpu-only", cpu=16)
    builders.node("gpu-box", cpu=4, gpus=2)

    response = api.post("/api/v1/tasks", {"command": "true", "gpu": 2}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["gpu"], body["node_name"], sorted(body["gpu_devices"])) == (2, "gpu-box", [0, 1])
    assert api.get(f"/api/v1/tasks/{body['id']}").json()["gpu_devices"] == body["gpu_devices"]


def test_a_task_asks_for_no_gpu_by_default(api):
    builders.node("gpu-box", cpu=4, gpus=2)

    body = api.post("/api/v1/tasks", {"command": "true"}, format="json").json()

    assert (body["gpu"], body["gpu_devices"]) == (0, [])


def test_nodes_show_gpu_capacity_allocated_free_and_devices(api):
    node = builders.node("gpu-box", cpu=4, gpus=3)
    builders.placed(builders.task(gpu=2))

    row = api.get("/api/v1/nodes").json()["results"][0]
    detail = api.get(f"/api/v1/nodes/{node.pk}").json()

    assert (row["gpu"], row["gpu_allocated"], row["gpu_free"]) == (3, 2, 1)
    assert [device["index"] for device in row["gpu_devices"]] == [0, 1, 2]
    # which task holds which device: the node's active tasks name theirs
    assert [len(task["gpu_devices"]) for task in detail["tasks"]] == [2]


def test_an_agent_registers_its_devices(joiner):
    devices = [{"index": 0, "uuid": "GPU-aaaa", "model": "NVIDIA A100-SXM4-40GB", "memory": 40960},
               {"index": 1, "uuid": "GPU-bbbb", "model": "NVIDIA A100-SXM4-40GB", "memory": 40960}]

    response = joiner.post("/api/v1/internal/register", {"name": "w", "cpu": 8, "mem": 8192, "gpus": devices},
                           format="json")

    assert response.status_code == 201, response.content
    node = Node.objects.get(name="w")
    assert (node.gpu_capacity, node.gpu_allocated, node.gpu_devices) == (2, 0, devices)


def test_an_agent_declaring_devices_by_index_alone_registers_them(joiner):
    response = joiner.post("/api/v1/internal/register",
                           {"name": "w", "cpu": 8, "mem": 8192, "gpus": [{"index": 0}, {"index": 3}]}, format="json")

    assert response.status_code == 201, response.content
    assert [d["index"] for d in Node.objects.get(name="w").gpu_devices] == [0, 3]

# Bad `gpu` requests and device lists: the GPU blocks of tests/api/test_bad_input.py.


def test_metrics_show_capacity_and_allocation_per_resource_gpus_included():
    from rest_framework.test import APIClient

    from tests.api.test_metrics import sample

    builders.node("gpu-box", cpu=4, gpus=4)
    builders.node("cpu-only", cpu=2)
    builders.placed(builders.task(gpu=3))

    text = APIClient().get("/metrics").content.decode()

    assert sample(text, "scheduler_resource_capacity", '{resource="gpu"}') == 4
    assert sample(text, "scheduler_resource_allocated", '{resource="gpu"}') == 3
    assert sample(text, "scheduler_resource_capacity", '{resource="cpu"}') == 6000


def test_an_agent_registers_named_resources_and_a_rejoin_keeps_what_tasks_hold(joiner):
    body = {"name": "w", "cpu": 8, "mem": 8192, "resources": {"fpga": 2}}
    response = joiner.post("/api/v1/internal/register", body, format="json")
    assert response.status_code == 201, response.content
    builders.placed(builders.task(resources={"fpga": 2}))

    again = joiner.post("/api/v1/internal/register", {**body, "resources": {}, "node_token": response.json()["token"]},
                        format="json")

    assert again.status_code == 201, again.content
    assert Node.objects.get(name="w").resources == {"fpga": 2}  # never below what tasks hold
    bad = joiner.post("/api/v1/internal/register", {**body, "name": "x", "resources": {"fpga": -1}}, format="json")
    assert bad.status_code == 400 and "resources" in bad.json()
