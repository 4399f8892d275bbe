"""Reconciliation, pure: desired assignments + what this agent holds -> what to start, kill, report lost."""

from __future__ import annotations

from agent.reconcile import GenerationGate, Plan, key_of, reconcile


def assigned(task: int, attempt: int = 1) -> dict:
    return {"task": task, "attempt": attempt, "status": "ASSIGNED", "command": "true"}


def running(task: int, attempt: int = 1) -> dict:
    return {"task": task, "attempt": attempt, "status": "RUNNING"}


def test_an_assigned_attempt_not_held_starts() -> None:
    plan = reconcile(assignments=[assigned(2), assigned(1)], running=[], finished=[])
    assert [key_of(a) for a in plan.start] == [(1, 1), (2, 1)]
    assert plan.kill == [] and plan.lost == []


def test_an_attempt_run_here_before_never_starts_again() -> None:
    plan = reconcile(assignments=[assigned(1), assigned(2)], running=[(1, 1)], finished=[(2, 1)])
    assert not plan


def test_running_at_the_master_but_never_here_is_lost() -> None:
    plan = reconcile(assignments=[running(3, 2)], running=[], finished=[])
    assert plan.lost == [(3, 2)] and plan.start == []


def test_held_but_not_desired_is_killed_a_new_attempt_starts() -> None:
    plan = reconcile(assignments=[assigned(1, 2)], running=[(1, 1), (5, 1)], finished=[])
    assert plan.kill == [(1, 1), (5, 1)]
    assert [key_of(a) for a in plan.start] == [(1, 2)]


def test_an_agent_not_accepting_work_starts_nothing_but_still_kills() -> None:
    plan = reconcile(assignments=[assigned(1)], running=[(9, 1)], finished=[], accepting=False)
    assert plan.start == [] and plan.kill == [(9, 1)]


def test_the_same_inputs_give_the_same_plan() -> None:
    inputs = {"assignments": [assigned(1), running(2)], "running": [(3, 1)], "finished": []}
    assert reconcile(**inputs) == reconcile(**inputs)
    assert Plan() == Plan() and not Plan()


def test_the_generation_gate_acts_on_answers_at_least_as_new_as_the_newest_seen() -> None:
    gate = GenerationGate()
    assert gate.admit(None) is False
    assert gate.admit(3) is True
    assert gate.admit(3) is True, "the same generation again (heartbeat after a nudge) is fine"
    assert gate.admit(2) is False
    gate.reset()
    assert gate.admit(0) is True
