"""`manage.py demo` (what `make demo ARGS=...` runs): options, a bounded run, and two demos that
never share a store by accident. Real processes; their logs go through the error-log guard."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests import logguard
from tests.cluster import ROOT, free_port

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture(autouse=True)
def sqlite_run_only():
    if connection.vendor != "sqlite":
        pytest.skip("the demo runs on its own embedded SQLite: the SQLite run covers it")


def demo(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "demo", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def refused(*args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "demo", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode != 0, done.stdout
    return done.stderr


def test_a_second_demo_on_a_busy_port_or_data_dir_refuses_and_a_bounded_demo_stops_by_itself(tmp_path):
    port, data_dir = free_port(), tmp_path / "first"
    first = demo("--port", str(port), "--data-dir", str(data_dir), "--agents", "solo:1:512", "--fast-timers",
                 "--exit-after", "25")
    try:
        output = []
        for line in first.stdout:
            output.append(line)
            if line.startswith("READY "):
                break
        ready = json.loads(output[-1][6:])
        assert ready["url"] == f"http://127.0.0.1:{port}" and ready["pid"] == first.pid
        assert requests.get(f"{ready['url']}/healthz", timeout=5).status_code == 200

        busy_port = refused("--port", str(port), "--data-dir", str(tmp_path / "second"))
        assert f"port {port} on 127.0.0.1 is in use" in busy_port and "--port" in busy_port
        busy_dir = refused("--port", str(free_port()), "--data-dir", str(data_dir))
        assert f"{data_dir} is in use by another demo (pid {first.pid}, port {port})" in busy_dir
        assert not (tmp_path / "second" / "scheduler.sqlite3").exists(), "a refused demo touched nothing"

        started = time.monotonic()
        rest, _ = first.communicate(timeout=120)
        assert first.returncode == 0, rest
        assert "--exit-after 25: stopping" in rest and time.monotonic() - started < 60
    finally:
        if first.poll() is None:
            first.terminate()
            first.wait(timeout=60)
    logs = logguard.read_dir(data_dir / "logs")
    assert set(logs) == {"master", "sweeper", "agent-solo"}
    logguard.check(logs, where=str(data_dir / "logs"))


def test_the_data_dir_follows_the_port():
    port = free_port()
    data_dir = ROOT / "var" / f"demo-{port}"
    data_dir.mkdir(parents=True)
    try:
        with open(data_dir / "demo.lock", "w") as lock:  # as a running demo on that port holds it
            lock.write("pid 1, port 1\n")
            lock.flush()
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert f"{data_dir} is in use by another demo" in refused("--port", str(port))
    finally:
        shutil.rmtree(data_dir)
    assert not Path(data_dir).exists()
