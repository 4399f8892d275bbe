"""The agent's GPUs (`agent.devices`, issue 19): detection from `nvidia-smi` output (recorded from
the documented query format: no GPU on this machine), `--gpus auto|none|0,1,3`, and the
environment a task is started with: exactly its devices, none for a task given none."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent import devices
from agent.config import ConfigError, build_config
from agent.spawning import TaskSpec, task_environment

RECORDED = (Path(__file__).parent / "data" / "nvidia-smi-query-gpu.csv").read_text()
BASE = {"SCHEDULER_MASTER": "http://127.0.0.1:8000", "SCHEDULER_JOIN_TOKEN": "join-token-0123456789"}


def smi(stdout: str = RECORDED, returncode: int = 0, stderr: str = ""):
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, returncode, stdout=stdout, stderr=stderr)

    return run, calls


def test_recorded_nvidia_smi_output_gives_index_uuid_model_and_memory():
    found = devices.parse_nvidia_smi(RECORDED)

    assert [d["index"] for d in found] == [0, 1, 2, 3]
    assert found[0] == {"index": 0, "uuid": "GPU-8f6c2a8e-3b4d-11ee-be56-0242ac120002",
                        "model": "NVIDIA A100-SXM4-40GB", "memory": 40960}
    assert (found[3]["model"], found[3]["memory"]) == ("Tesla T4", 15360)


def test_detection_runs_the_documented_query_when_nvidia_smi_exists():
    run, calls = smi()

    found = devices.detect(which=lambda name: "/usr/bin/nvidia-smi", run=run)

    assert calls == [["nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader"]]
    assert len(found) == 4


def test_no_nvidia_smi_means_no_gpus_and_nothing_run():
    run, calls = smi()

    assert devices.detect(which=lambda name: None, run=run) == []
    assert calls == []


def test_a_failing_nvidia_smi_is_an_error_not_silently_no_gpus():
    run, _ = smi(stdout="", returncode=9, stderr="NVIDIA-SMI has failed because it couldn't communicate with the "
                                                  "NVIDIA driver.")

    with pytest.raises(devices.DeviceError, match="--gpus none"):
        devices.detect(which=lambda name: "/usr/bin/nvidia-smi", run=run)


def test_unreadable_output_is_an_error():
    with pytest.raises(devices.DeviceError, match="cannot read"):
        devices.parse_nvidia_smi("No devices were found, or something\n")


@pytest.mark.parametrize(("raw", "indices"), [("0,1", [0, 1]), ("3", [3]), (" 0 , 2 ", [0, 2]), ("none", []),
                                              ("NONE", [])])
def test_declared_devices_and_none(raw, indices):
    config = build_config(master=None, join_token=None, name="n1", gpus=raw, env=BASE)

    assert [d["index"] for d in config.gpus] == indices


def test_the_environment_declares_devices_too():
    config = build_config(master=None, join_token=None, name="n1", env={**BASE, "SCHEDULER_NODE_GPUS": "1,2"})

    assert [d["index"] for d in config.gpus] == [1, 2]


@pytest.mark.parametrize("raw", ["two", "-1", "0,0", "1.5", "0,,1", "99999", "\u0663"])
def test_a_bad_gpus_option_is_refused_naming_it(raw):
    with pytest.raises(ConfigError, match="--gpus"):
        build_config(master=None, join_token=None, name="n1", gpus=raw, env=BASE)


def test_a_task_sees_exactly_its_devices():
    env = task_environment(TaskSpec(task=1, attempt=1, command="true", gpu_devices=[1, 3],
                                    env={"CUDA_VISIBLE_DEVICES": "0,1,2,3"}), "n1")

    # the task's own env cannot widen what it was given
    assert (env["CUDA_VISIBLE_DEVICES"], env["NVIDIA_VISIBLE_DEVICES"], env["SCHEDULER_GPUS"]) == ("1,3", "1,3", "1,3")
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"  # indices as nvidia-smi numbers them


def test_a_task_given_no_gpu_sees_none():
    env = task_environment(TaskSpec(task=1, attempt=1, command="true"), "n1")

    assert (env["CUDA_VISIBLE_DEVICES"], env["SCHEDULER_GPUS"], env["NVIDIA_VISIBLE_DEVICES"]) == ("", "", "void")


def test_named_resources_from_options_and_environment():
    config = build_config(master=None, join_token=None, name="n1", resources=["matlab=2", "fpga-slot=1"], env=BASE)
    assert config.resources == {"matlab": 2, "fpga-slot": 1}
    from_env = build_config(master=None, join_token=None, name="n1",
                            env={**BASE, "SCHEDULER_NODE_RESOURCES": "a=1,b=3"})
    assert from_env.resources == {"a": 1, "b": 3}
    assert build_config(master=None, join_token=None, name="n1", env=BASE).resources == {}


@pytest.mark.parametrize("raw", ["matlab", "matlab=0", "matlab=-1", "matlab=1.5", "gpu=1", "=2", "9x=1", "a=1,a=2"])
def test_a_bad_resource_option_is_refused_naming_it(raw):
    with pytest.raises(ConfigError, match="--resource"):
        build_config(master=None, join_token=None, name="n1", resources=[raw], env=BASE)


# -- usage (heartbeats' gpu_usage) ---------------------------------------------------------------

USAGE = (Path(__file__).parent / "data" / "nvidia-smi-query-gpu-usage.csv").read_text()


def test_recorded_usage_output_gives_util_and_memory_per_device_and_unknowns_as_none():
    usage = devices.parse_gpu_usage(USAGE)

    assert usage[0] == {"index": 0, "util": 87.0, "mem_used": 31250.0, "mem_total": 40960.0}
    assert [entry["util"] for entry in usage] == [87.0, 0.0, 100.0, None]
    assert usage[3] == {"index": 3, "util": None, "mem_used": None, "mem_total": 15360.0}


@pytest.mark.parametrize("line", ["GPU-0, 87, 1, 2", "0, 87, 1", "9999, 1, 2, 3"])
def test_unreadable_usage_output_is_an_error(line):
    with pytest.raises(devices.DeviceError, match="cannot read"):
        devices.parse_gpu_usage(line)


def test_the_sampler_runs_the_usage_query_at_most_every_few_seconds_with_a_timeout():
    now = [100.0]
    calls, timeouts = [], []

    def run(argv, **kwargs):
        calls.append(argv)
        timeouts.append(kwargs["timeout"])
        return subprocess.CompletedProcess(argv, 0, stdout=USAGE, stderr="")

    sampler = devices.GpuUsageSampler(enabled=True, every=5.0, which=lambda name: "/usr/bin/nvidia-smi",
                                      run=run, clock=lambda: now[0])
    first = sampler.sample()
    now[0] += 3.0
    again = sampler.sample()
    now[0] += 3.0
    sampler.sample()

    assert calls[0] == ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used,memory.total",
                        "--format=csv,noheader,nounits"]
    assert len(calls) == 2 and again == first and len(first) == 4
    assert timeouts == [devices.USAGE_TIMEOUT] * 2 and devices.USAGE_TIMEOUT <= 5


def test_no_nvidia_smi_or_no_gpus_offered_means_no_usage_and_nothing_run():
    run, calls = smi(stdout=USAGE)

    assert devices.GpuUsageSampler(enabled=True, which=lambda name: None, run=run).sample() is None
    assert devices.GpuUsageSampler(enabled=False, which=lambda name: "/x/nvidia-smi", run=run).sample() is None
    assert calls == []


def test_a_slow_or_failing_nvidia_smi_gives_no_usage_and_the_heartbeat_goes_on():
    def slow(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    failing, _ = smi(stdout="", returncode=9)
    for run in (slow, failing):
        sampler = devices.GpuUsageSampler(enabled=True, which=lambda name: "/x/nvidia-smi", run=run)
        assert sampler.sample() is None
