"""The node agent's own life, with its master faked at the client: a thread loop that keeps failing
stops the agent cleanly with exit code 70 (its supervisor restarts it), never a half-life in which
heartbeats go on while nothing is shipped or reaped."""

from __future__ import annotations

import signal
import threading

import pytest

from agent.client import Unreachable
from agent.config import build_config
from agent.loops import EXIT_SOFTWARE
from agent.node_agent import NodeAgent

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """`NodeAgent.run` installs SIGTERM/SIGINT handlers in this (pytest's) process: put them back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_loop_that_keeps_failing_stops_the_agent_with_exit_code_70(tmp_path, monkeypatch) -> None:
    config = build_config(master="http://127.0.0.1:9", join_token="join-token-0123456789", name="n1", cpu="1",
                          mem="256", state_dir=str(tmp_path / "state"), work_dir=str(tmp_path / "work"), env={})
    agent = NodeAgent(config)
    beats, left = [], threading.Event()

    def heartbeat(**_: object) -> dict:
        beats.append(1)
        raise Unreachable("no master in this test")

    answer = {"id": 1, "token": "node-token", "heartbeat_interval": 0.1}
    monkeypatch.setattr(agent.client, "register", lambda **_: answer)
    monkeypatch.setattr(agent.client, "heartbeat", heartbeat)
    monkeypatch.setattr(agent.client, "leave", lambda **_: left.set() or {})
    monkeypatch.setattr(agent.link, "start", lambda: agent.link.connected.set())
    monkeypatch.setattr(agent.link, "send", lambda frame: True)

    def broken_pass() -> None:
        raise RuntimeError("a bug in the shipper")

    monkeypatch.setattr(agent.shipper, "ship_once", broken_pass)
    code = agent.run()
    assert code == EXIT_SOFTWARE
    assert left.is_set(), "a clean shutdown: the agent told the master it leaves"


def test_refused_at_its_first_registration_the_agent_exits_2_without_a_traceback(tmp_path, monkeypatch, caplog) -> None:
    from agent.client import Rejected
    from agent.loops import EXIT_REFUSED

    config = build_config(master="http://127.0.0.1:9", join_token="wrong-token-0123456789", name="n1", cpu="1",
                          mem="256", state_dir=str(tmp_path / "state"), work_dir=str(tmp_path / "work"), env={})
    agent = NodeAgent(config)

    def register(**_: object) -> dict:
        raise Rejected(401, "Invalid join token.")

    monkeypatch.setattr(agent.client, "register", register)
    assert agent.run() == EXIT_REFUSED
    assert [r.message for r in caplog.records if r.levelname == "ERROR"] == ["cannot join the cluster"]
    assert not any(r.exc_info for r in caplog.records)
