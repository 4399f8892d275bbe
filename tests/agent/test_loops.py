"""The guard of the agent's thread loops: a failing pass is logged and the loop goes on; a loop
that keeps failing takes the agent down (exit 70) instead of leaving it half alive."""

from __future__ import annotations

import logging

import pytest

from agent.loops import MAX_FAILURES_IN_A_ROW, LoopGuard


def test_a_failing_pass_is_logged_with_its_traceback_and_the_loop_goes_on(caplog) -> None:
    fatal: list[str] = []
    guard = LoopGuard("shipper", on_fatal=fatal.append, pause=0)
    passes = iter([ValueError("boom"), None, None])

    def step() -> None:
        error = next(passes)
        if error:
            raise error

    with caplog.at_level(logging.ERROR, logger="agent.loops"):
        assert [guard.run(step) for _ in range(3)] == [True, True, True]
    assert fatal == []
    assert guard.failures == 0  # a good pass resets the count
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failed) == 1 and failed[0].exc_info and failed[0].loop == "shipper"


def test_a_loop_failing_again_and_again_stops_the_agent() -> None:
    fatal: list[str] = []
    guard = LoopGuard("executor", on_fatal=fatal.append, pause=0)

    def step() -> None:
        raise OSError("bad file descriptor")

    results = [guard.run(step) for _ in range(MAX_FAILURES_IN_A_ROW)]
    assert results == [True] * (MAX_FAILURES_IN_A_ROW - 1) + [False]
    assert fatal == ["executor"]


@pytest.mark.parametrize("good_every", [2, 4])
def test_failures_that_are_not_in_a_row_never_stop_the_agent(good_every: int) -> None:
    fatal: list[str] = []
    guard = LoopGuard("link", on_fatal=fatal.append, pause=0)
    count = 0

    def step() -> None:
        nonlocal count
        count += 1
        if count % good_every:
            raise RuntimeError("now and then")

    assert all(guard.run(step) for _ in range(50))
    assert fatal == []
