"""`schedctl logs` flags against a real master and agent: --tail, --search, --timestamps/--streams,
--stream, and invalid UTF-8 shown as U+FFFD."""

from __future__ import annotations

import re

import pytest

from tests.cli.test_schedctl import schedctl

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

COMMAND = ("for i in $(seq 1 300); do echo line $i; done; sleep 0.05; echo oops needle >&2; sleep 0.05; "
           "printf 'bad \\377 byte\\n'; echo Needle again")


def test_logs_tail_search_prefixes_and_invalid_bytes(cluster, user_env):
    cluster.start_agent("worker-1")
    task = cluster.submit(COMMAND, cpu=0.5, mem=64)
    cluster.wait_task(task["id"], "SUCCEEDED", timeout=60)
    tid = str(task["id"])

    tail = schedctl("logs", tid, "--tail", "3", env=user_env)
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout == "bad \ufffd byte\nNeedle again\n" and tail.stderr == "oops needle\n"

    found = schedctl("logs", tid, "--search", "NEEDLE", env=user_env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() == ["1:301:stderr: oops needle", "1:303:stdout: Needle again"]
    assert schedctl("logs", tid, "--search", "absent", env=user_env).returncode == 1
    regex = schedctl("logs", tid, "--search", r"^line 29\d$", "--regex", env=user_env)
    assert len(regex.stdout.splitlines()) == 10
    bad = schedctl("logs", tid, "--search", "(", "--regex", env=user_env)
    assert bad.returncode != 0 and "q" in bad.stderr

    prefixed = schedctl("logs", tid, "--timestamps", "--streams", env=user_env).stdout.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z stdout line 1", prefixed[0])
    assert prefixed[300].endswith(" stderr oops needle")
    only_err = schedctl("logs", tid, "--stream", "stderr", env=user_env)
    assert only_err.stdout == "oops needle\n"
    whole = schedctl("logs", tid, env=user_env)
    assert "bad \ufffd byte\n" in whole.stdout
