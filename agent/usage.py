"""Usage figures for heartbeats: the machine's (psutil) for a node that is the whole machine;
for a node carved out of a machine by hand (--cpu/--mem), its own tasks' share of its capacity."""

from __future__ import annotations

import time

import psutil


class UsageMeter:
    def __init__(self, *, carved: bool, cpu_millicores: int, mem_mib: int) -> None:
        self.carved = carved
        self.cores = cpu_millicores / 1000
        self.mem_bytes = mem_mib * 1024 * 1024
        self._last = time.monotonic()
        psutil.cpu_percent(interval=None)  # prime the counter

    def sample(self, *, task_cpu_seconds: float, task_rss_bytes: int) -> tuple[float, float]:
        """(cpu %, mem %) since the previous sample."""
        now = time.monotonic()
        elapsed, self._last = max(now - self._last, 1e-3), now
        if not self.carved:
            return psutil.cpu_percent(interval=None), psutil.virtual_memory().percent
        cpu = 100.0 * task_cpu_seconds / (elapsed * self.cores)
        mem = 100.0 * task_rss_bytes / self.mem_bytes
        return round(min(cpu, 100.0), 1), round(min(mem, 100.0), 1)
