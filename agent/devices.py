"""The node's GPUs (issue 19): which devices this agent offers, and what a task is shown of them.

`--gpus auto` (the default) asks `nvidia-smi` when the command exists and offers nothing
otherwise; `--gpus none` offers nothing; `--gpus 0,1,3` declares device indices by hand (machines
where detection is not wanted, and the tests, which have no GPU). Each device goes to the master
at registration as {index, uuid, model, memory (MiB)}. The master pins devices to each attempt;
the task is started with exactly those visible (`gpu_environment`), and a task given none sees
none, so it cannot grab a GPU by accident.

Usage: `GpuUsageSampler` asks `nvidia-smi` for each device's utilisation and memory at most every
USAGE_EVERY seconds (with a short timeout), so heartbeats carry `gpu_usage` without waiting on
the driver; without nvidia-smi it gives None and the heartbeat carries no field.

Also `--resource NAME=COUNT` (repeatable): named countable things the node offers (licences, FPGA
slots), counted by the master like CPU and memory (`named_resources`).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence

from agent.protocol import MAX_GPU_INDEX, MAX_GPU_USAGE_ENTRIES

NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader"]
DETECT_TIMEOUT = 10.0  # seconds: a wedged driver must not keep the agent from starting
NVIDIA_SMI_USAGE = ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used,memory.total",
                    "--format=csv,noheader,nounits"]
USAGE_TIMEOUT = 2.0  # seconds: a heartbeat waits at most this long for the driver
USAGE_EVERY = 5.0  # seconds between samples, however fast the heartbeats
log = logging.getLogger("agent.devices")

Device = dict  # {"index": int, "uuid": str, "model": str, "memory": int | None}


class DeviceError(ValueError):
    """A bad --gpus value or unreadable detection output; the message names the option."""


def declared(raw: str) -> list[Device]:
    """`0,1,3` -> those devices, by index alone."""
    indices = []
    for part in raw.split(","):
        text = part.strip()
        if not text.isascii() or not text.isdigit() or int(text) > MAX_GPU_INDEX:
            raise DeviceError(f"--gpus: {part.strip()!r} is not a device index (0 to {MAX_GPU_INDEX}); "
                              "use auto, none or indices such as 0,1,3")
        indices.append(int(text))
    if len(set(indices)) != len(indices):
        raise DeviceError(f"--gpus: {raw!r} names a device twice")
    return [{"index": index, "uuid": "", "model": "", "memory": None} for index in indices]


def parse_nvidia_smi(output: str) -> list[Device]:
    """`nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader` output, one
    line per GPU: '0, GPU-8f6c..., NVIDIA A100-SXM4-40GB, 40960 MiB'."""
    devices = []
    for line in output.splitlines():
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) < 4 or not fields[0].isdigit():
            raise DeviceError(f"nvidia-smi: cannot read {line.strip()!r}")
        index, uuid, memory = int(fields[0]), fields[1], fields[-1]
        model = ", ".join(fields[2:-1])  # a model name with a comma in it stays whole
        amount = memory.split()[0] if memory else ""
        devices.append({"index": index, "uuid": uuid, "model": model,
                        "memory": int(amount) if amount.isdigit() else None})
    return devices


def detect(*, which: Callable[[str], str | None] = shutil.which,
           run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[Device]:
    """The NVIDIA GPUs of this machine, or none when `nvidia-smi` is not installed. A present but
    failing `nvidia-smi` (driver trouble) is an error: silently offering no GPUs would hide it."""
    if which("nvidia-smi") is None:
        return []
    try:
        result = run(NVIDIA_SMI_QUERY, capture_output=True, text=True, timeout=DETECT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DeviceError(f"nvidia-smi failed: {error}; start with --gpus none or --gpus 0,1,... to skip "
                          "detection") from None
    if result.returncode != 0:
        raise DeviceError(f"nvidia-smi exited with {result.returncode}: {result.stderr.strip()[:200]}; start with "
                          "--gpus none or --gpus 0,1,... to skip detection")
    return parse_nvidia_smi(result.stdout)


def _usage_number(text: str) -> float | None:
    """A figure of the usage query: '87' -> 87.0; '[N/A]', '[Not Supported]' -> None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_gpu_usage(output: str) -> list[dict]:
    """`nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total
    --format=csv,noheader,nounits` output, one line per GPU ('0, 87, 31250, 40960') ->
    [{index, util (%), mem_used, mem_total (MiB)}], a figure the driver does not give as None."""
    usage = []
    for line in output.splitlines():
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 4 or not fields[0].isdigit() or int(fields[0]) > MAX_GPU_INDEX:
            raise DeviceError(f"nvidia-smi: cannot read {line.strip()!r}")
        util, used, total = (_usage_number(field) for field in fields[1:])
        usage.append({"index": int(fields[0]), "util": None if util is None else min(util, 100.0),
                      "mem_used": used, "mem_total": total})
    return usage


class GpuUsageSampler:
    """The GPUs' usage for heartbeats: a fresh `nvidia-smi` sample at most every `every` seconds,
    the last one in between; None when nvidia-smi is absent or the agent offers no GPUs. A failing
    or slow nvidia-smi is logged (once until it recovers) and gives None: usage is a nicety, the
    heartbeat must go."""

    def __init__(self, *, enabled: bool, every: float = USAGE_EVERY,
                 which: Callable[[str], str | None] = shutil.which,
                 run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled and which("nvidia-smi") is not None
        self.every, self._run, self._clock = every, run, clock
        self._last: list[dict] | None = None
        self._at: float | None = None
        self._failing = False

    def sample(self) -> list[dict] | None:
        if not self.enabled:
            return None
        now = self._clock()
        if self._at is not None and now - self._at < self.every:
            return self._last
        self._at = now
        try:
            result = self._run(NVIDIA_SMI_USAGE, capture_output=True, text=True, timeout=USAGE_TIMEOUT, check=False)
            if result.returncode != 0:
                raise DeviceError(f"nvidia-smi exited with {result.returncode}: {result.stderr.strip()[:200]}")
            self._last = parse_gpu_usage(result.stdout)[:MAX_GPU_USAGE_ENTRIES]
            self._failing = False
        except (OSError, subprocess.TimeoutExpired, DeviceError) as error:
            if not self._failing:
                log.warning("cannot read GPU usage; heartbeats go without it", extra={"error": str(error)})
            self._failing, self._last = True, None
        return self._last


def configured(raw: str | None, **detect_with) -> list[Device]:
    """What `--gpus` (or SCHEDULER_NODE_GPUS) says: auto (default), none, or indices."""
    value = (raw or "auto").strip().lower()
    if value == "auto":
        return detect(**detect_with)
    if value == "none":
        return []
    return declared(value)


def gpu_environment(devices: Sequence[int]) -> dict[str, str]:
    """What a task is shown of the node's GPUs: exactly `devices` (indices, numbered as nvidia-smi
    numbers them, hence CUDA_DEVICE_ORDER=PCI_BUS_ID; CUDA's default order is fastest first). An
    empty list hides every GPU (CUDA_VISIBLE_DEVICES set, and empty)."""
    listed = ",".join(str(index) for index in devices)
    return {
        "CUDA_VISIBLE_DEVICES": listed,
        "NVIDIA_VISIBLE_DEVICES": listed if listed else "void",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "SCHEDULER_GPUS": listed,
    }


RESOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._/-]{0,62}$")  # as the master's `nodes.resources.NAMED_RESOURCE`
RESERVED = frozenset({"cpu", "mem", "memory", "gpu"})


def named_resources(items: Sequence[str]) -> dict[str, int]:
    """`--resource matlab=2 --resource fpga=1` (or comma-separated) -> {"matlab": 2, "fpga": 1}."""
    out: dict[str, int] = {}
    for item in (part.strip() for raw in items for part in raw.split(",")):
        if not item:
            continue
        name, sep, count = item.partition("=")
        name, count = name.strip(), count.strip()
        if not sep or not RESOURCE_NAME.fullmatch(name) or name in RESERVED:
            raise DeviceError(f"--resource: {item!r} is not NAME=COUNT (a name such as matlab or fpga-slot; not cpu, "
                              "mem or gpu)")
        if not count.isascii() or not count.isdigit() or int(count) < 1:
            raise DeviceError(f"--resource: {item!r}: the count must be a whole number, at least 1")
        if name in out:
            raise DeviceError(f"--resource: {name} given twice")
        out[name] = int(count)
    return out
