"""Benchmark probe, loaded only by bench/throughput.py (PYTHONPATH=bench/probe, BENCH_PROBE_DIR set).

In an agent process it records when each desired state reaches the agent, when the agent sends
each report and the time the report carries (process started, exit seen), as JSON lines
(unix time, kind, task, attempt) in BENCH_PROBE_DIR/agent-<pid>.jsonl at exit. The agent records
none of this itself today; nothing here changes what it does.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
import time

DIRECTORY = os.environ.get("BENCH_PROBE_DIR")
_records: list[tuple[float, str, int, int]] = []


def _on_frame(frame: dict) -> None:
    if isinstance(frame, dict) and "assignments" in frame:
        now = time.time()
        for assignment in frame.get("assignments") or ():
            if assignment.get("status") == "ASSIGNED":
                _records.append((now, "desired", assignment.get("task"), assignment.get("attempt")))


def _on_send(frame: dict) -> None:
    if isinstance(frame, dict) and frame.get("type") == "report":
        now = time.time()
        for report in frame.get("reports") or ():
            key = (report.get("task"), report.get("attempt"))
            _records.append((now, f"sent_{report.get('state')}", *key))
            if isinstance(report.get("at"), int | float):  # the agent's own time of the start / the exit
                _records.append((report["at"], f"at_{report.get('state')}", *key))


def _patch(module) -> None:
    link = getattr(module, "Link", None)
    if link is None:
        return
    init, send = link.__init__, link.send

    def patched_init(self, *args, **kwargs):
        on_frame = kwargs.get("on_frame")
        if on_frame is not None:
            def recorded(frame, _inner=on_frame):
                _on_frame(frame)
                return _inner(frame)
            kwargs["on_frame"] = recorded
        init(self, *args, **kwargs)

    def patched_send(self, frame):
        sent = send(self, frame)
        if sent:
            _on_send(frame)
        return sent

    link.__init__, link.send = patched_init, patched_send


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "agent.link":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


def _dump() -> None:
    if _records:
        with open(os.path.join(DIRECTORY, f"agent-{os.getpid()}.jsonl"), "w") as out:
            out.writelines(json.dumps(record) + "\n" for record in _records)


if DIRECTORY and any("runworker" in arg for arg in sys.argv):
    sys.meta_path.insert(0, _AfterImport())
    atexit.register(_dump)
