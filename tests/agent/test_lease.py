"""The agent's lease (agent.lease) and the guardian's side of it: OFFLINE less one heartbeat
interval; expired when no answer came for that long; a SIGKILL after a lapse is the lease's doing;
the guardian kills every task group when a renewal is late, and not before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from agent.lease import SIGKILL_EXIT, Lease, duration_for
from tests.cluster import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_lease_is_offline_less_one_heartbeat_and_at_least_two_heartbeats():
    assert duration_for(offline_after=30, heartbeat_interval=3) == 27
    assert duration_for(offline_after=3, heartbeat_interval=0.5) == 2.5
    assert duration_for(offline_after=1.2, heartbeat_interval=1) == 2


def test_no_lease_until_a_master_said_its_timers():
    clock = Clock()
    lease = Lease(clock=clock, wall=clock)
    lease.renew()
    clock.now += 3600
    assert not lease.expired()


def test_expired_after_the_duration_without_an_answer_and_renewed_by_one():
    clock = Clock()
    lease = Lease(clock=clock, wall=clock)
    lease.configure(offline_after=10, heartbeat_interval=1)
    lease.renew()
    clock.now += 9
    assert not lease.expired()
    clock.now += 0.5
    assert lease.expired()
    lease.renew()
    assert not lease.expired()


def test_a_sigkill_after_a_lapse_during_the_attempt_is_the_lease_s_doing_and_nothing_else_is():
    clock = Clock()
    lease = Lease(clock=clock, wall=clock)
    lease.configure(offline_after=3, heartbeat_interval=0.5)
    lease.renew()
    started = clock.now
    assert not lease.killed_by_lease(started_at=started, exit_code=SIGKILL_EXIT)  # no lapse
    clock.now += 10  # frozen: nothing renewed; the guardian killed the task meanwhile
    lease.renew()  # the first answer after the thaw came before the exit was seen
    assert lease.killed_by_lease(started_at=started, exit_code=SIGKILL_EXIT)
    assert not lease.killed_by_lease(started_at=started, exit_code=0)  # it ended on its own
    assert not lease.killed_by_lease(started_at=clock.now, exit_code=SIGKILL_EXIT)  # started after it


def test_the_guardian_kills_the_groups_when_a_renewal_is_late_not_before():
    guardian = subprocess.Popen([sys.executable, "-m", "agent.guardian"], stdin=subprocess.PIPE,
                                start_new_session=True)
    task = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        guardian.stdin.write(f"+{task.pid}\n".encode())
        for _ in range(6):  # renewed every 0.3 s for a 1 s lease: the task lives
            guardian.stdin.write(b"L1.0\n")
            guardian.stdin.flush()
            time.sleep(0.3)
        assert task.poll() is None
        wait_for(lambda: task.poll() is not None, timeout=10, what="the task killed once the lease ran out")
        assert task.returncode == -signal.SIGKILL
        assert guardian.poll() is None  # the guardian goes on serving the agent
    finally:
        if task.poll() is None:
            os.killpg(task.pid, signal.SIGKILL)
        guardian.stdin.close()
        guardian.wait(timeout=10)
