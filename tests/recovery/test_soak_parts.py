"""The soak's own parts that need no cluster: the task wrapper prints what the checker expects and
leaves the records it reads, the fault schedule is a function of the seed, nginx's configuration
is docs/deploy/nginx.conf with the run's ports, and the checker's rules flag what they should."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.soak.api import Api
from bench.soak.checker import Checker, Timers, read_effects
from bench.soak.faults import KINDS, Fault, schedule
from bench.soak.sampler import Sampler
from bench.soak.services import ROOT, nginx_config
from bench.soak.workload import WRAP_TEMPLATE, Submitted, expected_exit, expected_output


def run_wrapper(tmp_path: Path, kind: str, args: list[str], *, task: int = 7, attempt: int = 2) -> tuple[str, int]:
    effects = tmp_path / "effects.log"
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(WRAP_TEMPLATE.read_text().replace("__EFFECTS__", str(effects)))
    env = {"PATH": os.environ["PATH"], "SCHEDULER_TASK_ID": str(task), "SCHEDULER_ATTEMPT": str(attempt),
           "SCHEDULER_NODE": "n1"}
    done = subprocess.run(["bash", str(wrapper), kind, *args], env=env, capture_output=True, text=True, timeout=60)
    return done.stdout, done.returncode


def test_the_wrapper_prints_what_the_checker_expects_and_records_each_attempt(tmp_path):
    for kind, args in (("true", []), ("fail", ["4"]), ("flaky", ["3"]), ("sleep", ["2"]), ("chatty", ["2500"])):
        (tmp_path / "effects.log").unlink(missing_ok=True)
        out, code = run_wrapper(tmp_path, kind, args)
        assert out == expected_output(kind, 7, 2, args), kind
        assert code == expected_exit(kind, 2, args), kind
        run = read_effects(tmp_path / "effects.log")[(7, 2, "n1")]
        assert run.starts == 1 and run.end_code == code and run.last >= run.start, kind


def test_a_terminated_attempt_leaves_no_end_record(tmp_path):
    effects = tmp_path / "effects.log"
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(WRAP_TEMPLATE.read_text().replace("__EFFECTS__", str(effects)))
    env = {"PATH": os.environ["PATH"], "SCHEDULER_TASK_ID": "9", "SCHEDULER_ATTEMPT": "1", "SCHEDULER_NODE": "n2"}
    process = subprocess.Popen(["bash", str(wrapper), "sleep", "40"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL)
    for _ in range(100):
        if effects.exists() and "A 9 1" in effects.read_text():
            break
        subprocess.run(["sleep", "0.05"])
    os.killpg(process.pid, 15)  # as the agent stops a task: SIGTERM to its group
    assert process.wait(timeout=10) == 143
    run = read_effects(effects)[(9, 1, "n2")]
    assert run.terminated and run.end_code is None


def test_the_fault_schedule_is_the_seed_s_and_holds_every_kind():
    first = schedule(20261202, minutes=3, intensity=1, offline_after=3)
    again = schedule(20261202, minutes=3, intensity=1, offline_after=3)
    other = schedule(20261203, minutes=3, intensity=1, offline_after=3)
    assert [f.summary() for f in first] == [f.summary() for f in again]
    assert [f.summary() for f in first] != [f.summary() for f in other]
    assert {f.kind for f in first} == set(KINDS)
    lost = [f for f in first if f.kind in ("agent-freeze", "agent-partition")]
    assert lost and all(f.duration > 3 for f in lost), "a freeze or partition outlasts OFFLINE"
    assert all(8 <= f.at < 175 for f in first)


def test_nginx_gets_the_deployment_configuration_with_the_run_s_ports(tmp_path):
    template = (ROOT / "docs" / "deploy" / "nginx.conf").read_text()
    config = nginx_config(template, masters=[41001, 41002], listen=["127.0.0.1:42000", "10.213.9.1:42000"],
                          prefix=tmp_path)
    assert "server 127.0.0.1:41001 max_fails=3 fail_timeout=10s;" in config
    assert "server 127.0.0.1:41002 max_fails=3 fail_timeout=10s;" in config
    assert "listen 127.0.0.1:42000;" in config and "listen 10.213.9.1:42000;" in config
    assert "8001" not in config and "listen 8080" not in config
    for kept in ("proxy_set_header Upgrade $http_upgrade;", "proxy_buffering off;", "proxy_read_timeout 1h;",
                 "proxy_next_upstream error timeout;"):
        assert kept in config
    assert f"pid {tmp_path}/nginx.pid;" in config


def checker_for(tmp_path: Path, lines: list[str], *, faults: list[Fault] = (), events: list[dict] = ()) -> Checker:
    effects = tmp_path / "effects.log"
    effects.write_text("".join(line + "\n" for line in lines))
    checker = Checker(dsn="", api=Api("http://127.0.0.1:9"), submitted=[], cancels=[], faults=list(faults),
                      sampler=Sampler(""), effects=effects, timers=Timers(0.5, 1.0, 3.0), seed=1)
    for event in events:
        checker.events[event["task"]].append(event)
    return checker


def test_the_checker_flags_an_attempt_running_long_after_its_fence(tmp_path):
    lines = ["S 5 1 a 100.0 -", "A 5 1 a 110.0 -", "S 5 2 b 105.0 -", "E 5 2 b 112.0 0"]
    fenced = {"task": 5, "attempt": 1, "from": "RUNNING", "to": "PENDING", "node": "a", "reason": "NodeLost",
              "time": 104.0}
    checker = checker_for(tmp_path, lines, events=[fenced])
    checker.concurrent_attempts()
    assert [v.rule for v in checker.result.violations] == ["ran-after-fencing"]
    # The same overlap while node a was frozen until 108.5: it stopped within the allowance of its return.
    freeze = Fault(at=0, kind="agent-freeze", pick=0, duration=4, target="agent-a", start=103.0, end=108.5)
    checker = checker_for(tmp_path, lines, events=[fenced], faults=[freeze])
    checker.concurrent_attempts()
    assert checker.result.violations == []


def test_the_checker_flags_work_that_ran_to_the_end_twice(tmp_path):
    lines = ["S 6 1 a 100.0 -", "E 6 1 a 101.0 0", "S 6 2 b 102.0 -", "E 6 2 b 103.0 0"]
    checker = checker_for(tmp_path, lines)
    checker.submitted = [Submitted("chaos-1-1", "true", [], {}, 99.0, 99.1, 201, 6)]
    checker.tasks = {6: {"id": 6, "name": "chaos-1-1", "status": "SUCCEEDED", "attempt": 2, "max_attempts": 20,
                         "exit_code": 0, "reason": "Succeeded", "message": "", "node": "b"}}
    checker.attempts_and_outcomes()
    assert [v.rule for v in checker.result.violations] == ["ran-to-the-end-twice"]
