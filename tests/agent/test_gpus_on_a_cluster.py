"""GPUs end to end (issue 19): a real master and real agents declaring devices (`--gpus 0,1`: no
GPU needed). Two 1-GPU tasks running at once see different CUDA_VISIBLE_DEVICES, a third waits with
"Insufficient gpu" until one ends, a CPU task goes to the CPU-only node when both fit, and a node
lost with a GPU task requeues it and frees the device."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.fixture
def release():
    """Where the test drops the file that lets its tasks end: a directory the task user (tasks run
    unprivileged, and pytest's tmp_path is 0700) can look into."""
    directory = Path(tempfile.mkdtemp(prefix="gres-release-", dir="/tmp"))
    directory.chmod(0o755)
    yield directory / "release"
    shutil.rmtree(directory, ignore_errors=True)


def held_until(release: Path) -> str:
    """A command that prints the devices it sees, then holds them until `release` exists."""
    return (f'echo "devices=[$CUDA_VISIBLE_DEVICES] scheduler=[$SCHEDULER_GPUS]"; '
            f"while [ ! -e {release} ]; do sleep 0.1; done")


def seen(cluster, task_id: int) -> str:
    return wait_for(lambda: next((line for line in cluster.logs_text(task_id).splitlines()
                                  if line.startswith("devices=")), None), timeout=60, what=f"task {task_id}'s output")


def test_gpu_tasks_get_their_own_devices_wait_for_them_and_cpu_work_stays_off_the_gpu_node(cluster, release):
    cluster.start_agent("gpu-box", cpu=4, mem=2048, options=("--gpus", "0,1"))
    cluster.start_agent("cpu-box", cpu=4, mem=2048, options=("--gpus", "none"))
    assert (cluster.node("gpu-box")["gpu"], cluster.node("cpu-box")["gpu"]) == (2, 0)

    cpu_task = cluster.submit("true", cpu=1, mem=64)
    assert cluster.wait_task(cpu_task["id"], "SUCCEEDED", timeout=60)["node_name"] == "cpu-box"

    first, second = (cluster.submit(held_until(release), cpu=0.5, mem=64, gpu=1) for _ in range(2))
    running = [cluster.wait_task(t["id"], "RUNNING", timeout=60) for t in (first, second)]
    third = cluster.submit(held_until(release), cpu=0.5, mem=64, gpu=1)

    assert {t["node_name"] for t in running} == {"gpu-box"}
    assert sorted(d for t in running for d in t["gpu_devices"]) == [0, 1]
    lines = {seen(cluster, t["id"]) for t in (first, second)}
    assert lines == {"devices=[0] scheduler=[0]", "devices=[1] scheduler=[1]"}, lines
    waiting = wait_for(lambda: (t := cluster.task(third["id"]))["status_message"] and t, timeout=30)
    assert waiting["status"] == "PENDING"
    assert waiting["status_message"].startswith("0/2 nodes are available: 2 Insufficient gpu.")  # + reservation note
    assert cluster.node("gpu-box")["gpu_free"] == 0

    release.touch()
    for task in (first, second, third):
        cluster.wait_task(task["id"], "SUCCEEDED", timeout=60)
    assert seen(cluster, third["id"]) in lines  # a device one of the first two gave back
    assert cluster.node("gpu-box")["gpu_allocated"] == 0


def test_a_node_lost_with_a_gpu_task_requeues_it_frees_the_device_and_the_next_node_runs_it(cluster, release):
    cluster.start_sweeper()
    cluster.start_agent("gpu-a", cpu=2, mem=1024, options=("--gpus", "0,1"))
    task = cluster.submit(held_until(release), cpu=0.5, mem=64, gpu=2, max_attempts=3)
    assert cluster.wait_task(task["id"], "RUNNING", timeout=60)["node_name"] == "gpu-a"
    assert cluster.node("gpu-a")["gpu_allocated"] == 2

    cluster.kill("agent-gpu-a")  # kill -9: no goodbye, the sweeper finds it silent
    cluster.wait_node("gpu-a", "OFFLINE", timeout=60)
    requeued = cluster.wait_task(task["id"], "PENDING", timeout=60)

    assert requeued["gpu_devices"] == [] and requeued["attempt"] == 1
    assert cluster.node("gpu-a")["gpu_allocated"] == 0
    cluster.start_agent("gpu-b", cpu=2, mem=1024, options=("--gpus", "2,3"))
    again = cluster.wait_task(task["id"], "RUNNING", timeout=60)
    assert (again["node_name"], again["attempt"], sorted(again["gpu_devices"])) == ("gpu-b", 2, [2, 3])
    release.touch()
    cluster.wait_task(task["id"], "SUCCEEDED", timeout=60)
    assert "devices=[2,3] scheduler=[2,3]" in cluster.logs_text(task["id"], attempt=2)


def test_a_named_resource_an_agent_offers_is_counted_like_cpu(cluster, release):
    cluster.start_agent("licensed", cpu=4, mem=1024, options=("--gpus", "none", "--resource", "matlab=1"))
    assert cluster.node("licensed")["resources"] == {"matlab": {"capacity": 1, "allocated": 0, "free": 1}}

    first, second = (cluster.submit(held_until(release), cpu=0.5, mem=64, resources={"matlab": 1}) for _ in range(2))
    cluster.wait_task(first["id"], "RUNNING", timeout=60)
    waiting = wait_for(lambda: (t := cluster.task(second["id"]))["status_message"] and t, timeout=30)

    assert waiting["status_message"].startswith("0/1 nodes are available: 1 Insufficient matlab.")  # + reservation note
    release.touch()
    cluster.wait_task(second["id"], "SUCCEEDED", timeout=60)
    assert cluster.node("licensed")["resources"]["matlab"]["allocated"] == 0


def test_an_agent_detects_gpus_with_nvidia_smi_and_registers_them(cluster, tmp_path):
    """`--gpus auto` (the default) with an `nvidia-smi` on PATH: here a stand-in that prints output
    recorded in the documented query format, as no GPU is at hand."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = Path(__file__).parent / "data" / "nvidia-smi-query-gpu.csv"
    fake = bin_dir / "nvidia-smi"
    fake.write_text('#!/bin/sh\n'
                    f'[ "$1" = "--query-gpu=index,uuid,name,memory.total" ] && exec cat {recorded}\nexit 9\n')
    fake.chmod(0o755)
    cluster.start_agent("detected", cpu=2, mem=1024, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})

    node = cluster.node("detected")
    assert node["gpu"] == 4
    assert node["gpu_devices"][0] == {"index": 0, "uuid": "GPU-8f6c2a8e-3b4d-11ee-be56-0242ac120002",
                                      "model": "NVIDIA A100-SXM4-40GB", "memory": 40960}
    task = cluster.submit('echo "[$CUDA_VISIBLE_DEVICES]"', cpu=0.5, mem=64, gpu=3)
    cluster.wait_task(task["id"], "SUCCEEDED", timeout=60)
    assert cluster.logs_text(task["id"]).strip() == "[0,1,2]"


def test_an_agent_reports_its_gpus_usage_in_heartbeats_and_the_node_api_shows_it(cluster, tmp_path):
    """Usage (issue 19): the stand-in `nvidia-smi` answers the detection query and the usage query
    (`--query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`),
    each from recorded output; the agent's heartbeats carry the usage to the node's API."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    data = Path(__file__).parent / "data"
    detection, usage_output = data / "nvidia-smi-query-gpu.csv", data / "nvidia-smi-query-gpu-usage.csv"
    fake = bin_dir / "nvidia-smi"
    fake.write_text('#!/bin/sh\n'
                    f'[ "$1" = "--query-gpu=index,uuid,name,memory.total" ] && exec cat {detection}\n'
                    '[ "$1" = "--query-gpu=index,utilization.gpu,memory.used,memory.total" ] && '
                    f'[ "$2" = "--format=csv,noheader,nounits" ] && exec cat {usage_output}\n'
                    'exit 9\n')
    fake.chmod(0o755)
    cluster.start_agent("busy-gpus", cpu=2, mem=1024, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    cluster.start_agent("no-gpus", cpu=2, mem=1024, options=("--gpus", "none"))

    usage = wait_for(lambda: cluster.node("busy-gpus")["gpu_usage"], timeout=60, what="busy-gpus's GPU usage")

    assert usage == [{"index": 0, "util": 87.0, "mem_used": 31250.0, "mem_total": 40960.0},
                     {"index": 1, "util": 0.0, "mem_used": 3.0, "mem_total": 40960.0},
                     {"index": 2, "util": 100.0, "mem_used": 24101.0, "mem_total": 24576.0},
                     {"index": 3, "util": None, "mem_used": None, "mem_total": 15360.0}]
    assert cluster.node("no-gpus")["gpu_usage"] is None
