"""Retries against the real system (API, master, sweeper, agent): a command that fails twice then
succeeds, exit-code filtering, and a cancelled task is never retried."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.cluster import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _counting(path) -> str:
    """A command that counts its runs in `path` and succeeds on the third."""
    return (f'n=$(cat {path} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {path}; '
            f'echo "run $n attempt $SCHEDULER_ATTEMPT"; [ "$n" -ge 3 ] || exit 3')


def test_a_command_failing_twice_then_succeeding_with_two_retries(cluster, tmp_path):
    cluster.start_agent("worker-1")
    task = cluster.submit(_counting(tmp_path / "runs"), cpu=0.5, mem=64, retries=2, retry_backoff=1,
                          retry_backoff_max=600)
    assert (task["retries"], task["retries_used"]) == (2, 0)
    done = cluster.wait_task(task["id"], "SUCCEEDED", "FAILED", timeout=60)
    assert done["status"] == "SUCCEEDED", done
    assert (done["attempt"], done["retries_used"], done["lost_attempts"]) == (3, 2, 0)
    # each attempt kept its own log
    for attempt in (1, 2, 3):
        assert f"run {attempt} attempt {attempt}\n" == cluster.logs_text(task["id"], attempt)
    # the backoff: retry k waits 1 * 2**(k-1) s, less at most 10 % jitter, before its placement
    events = done["events"]
    backoffs = [e for e in events if e["reason"] == "Backoff" and e["from_status"] in ("RUNNING", "ASSIGNED")]
    assert [e["message"].split(" after ")[1] for e in backoffs] == ["exit code 3 (retry 1 of 2).",
                                                                    "exit code 3 (retry 2 of 2)."]
    for k, backoff in enumerate(backoffs, start=1):
        placed = next(e for e in events if e["id"] > backoff["id"] and e["to_status"] == "ASSIGNED")
        waited = (_time(placed["time"]) - _time(backoff["time"])).total_seconds()
        assert waited >= 0.9 * 2 ** (k - 1) - 0.01, (k, waited)


def test_only_the_listed_exit_codes_retry(cluster):
    cluster.start_agent("worker-1")
    listed = cluster.submit("exit 3", cpu=0.5, mem=64, retries=1, retry_backoff=0, retry_on_exit_codes=[3])
    other = cluster.submit("exit 4", cpu=0.5, mem=64, retries=1, retry_backoff=0, retry_on_exit_codes=[3])
    retried = cluster.wait_task(listed["id"], "FAILED", timeout=30)
    assert (retried["attempt"], retried["retries_used"], retried["exit_code"]) == (2, 1, 3)
    failed = cluster.wait_task(other["id"], "FAILED", timeout=30)
    assert (failed["attempt"], failed["retries_used"], failed["exit_code"]) == (1, 0, 4)


def test_a_task_cancelled_while_waiting_for_its_retry_stays_cancelled(cluster):
    cluster.start_agent("worker-1")
    task = cluster.submit("exit 1", cpu=0.5, mem=64, retries=3, retry_backoff=60)
    waiting = wait_for(lambda: (t := cluster.task(task["id"]))["status_reason"] == "Backoff" and t,
                       timeout=30, what="the retry's backoff")
    assert waiting["status"] == "PENDING" and waiting["not_before"]
    cancelled = cluster.api.post(f"{cluster.url}/api/v1/tasks/{task['id']}/cancel").json()
    assert cancelled["status"] == "CANCELLED" and cancelled["not_before"] is None
    assert cluster.task(task["id"])["attempt"] == 1
