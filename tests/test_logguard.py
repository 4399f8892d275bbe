"""The error-log guard's reading of process logs (pure logic; the real-process runs use it)."""

from __future__ import annotations

import json

import pytest

from tests import logguard
from tests.logguard import Expected, entries, problems


def record(level: str, msg: str, **extra) -> str:
    return json.dumps({"ts": "2026-01-01T00:00:00.000Z", "level": level, "logger": "x", "msg": msg, **extra})


PLAIN_TRACEBACK = """Traceback (most recent call last):
  File "/x.py", line 1, in <module>
    boom()
ValueError: the plain one"""


def test_error_and_critical_records_and_any_traceback_are_problems_info_and_warnings_are_not():
    log = "\n".join([
        record("info", "fine"),
        record("warning", "heartbeat failed; tasks keep running"),
        '127.0.0.1:1 - - [02/Dec/2026:00:42:51] "GET /api/v1/tasks/10" 200 1323',
        record("error", "writing a batch of heartbeats failed"),
        record("critical", "down"),
        record("warning", "recovered", exc="Traceback (most recent call last):\n  File ...\nKeyError: 1"),
        PLAIN_TRACEBACK,
        "ERROR:root:logged before logging was configured",
    ])
    found = [p.entry for p in problems({"master": log})]
    assert len(found) == 5
    assert "writing a batch" in found[0] and '"critical"' in found[1] and "KeyError" in found[2]
    assert found[3] == PLAIN_TRACEBACK  # one entry, its frames and its exception line together
    assert found[4].startswith("ERROR:root")


def test_a_plain_traceback_is_one_entry_up_to_its_exception_line():
    chained = PLAIN_TRACEBACK + "\n\nDuring handling of the above exception, another exception occurred:\n\n" \
        + PLAIN_TRACEBACK.replace("plain one", "second") + "\n" + record("info", "next")
    parts = list(entries(chained))
    assert len(parts) == 2 and parts[0].endswith("ValueError: the second") and parts[1].startswith("{")


def test_a_declared_error_is_excused_only_for_its_processes():
    log = record("error", "lost the agent socket") + "\n" + PLAIN_TRACEBACK
    expected = [Expected.of(r"lost the agent socket", "agent-*"), Expected.of(r"ValueError: the plain one", "master")]
    assert problems({"agent-a": log.splitlines()[0], "master": PLAIN_TRACEBACK}, expected) == []
    found = problems({"master": log, "agent-a": PLAIN_TRACEBACK}, expected)
    assert [(p.process, "lost" in p.entry) for p in found] == [("master", True), ("agent-a", False)]


@pytest.mark.parametrize("blanket", ["", ".*", "(?s).", r"\w", "x*"])
def test_a_blanket_allowance_is_refused(blanket):
    with pytest.raises(ValueError, match="matches anything"):
        Expected.of(blanket)


def test_check_lists_the_offending_lines(tmp_path):
    (tmp_path / "master.log").write_text(record("info", "ok") + "\n" + record("error", "it broke") + "\n")
    (tmp_path / "agent-a.log").write_text(record("info", "ok") + "\n")
    with pytest.raises(AssertionError) as failure:
        logguard.check(logguard.read_dir(tmp_path))
    assert "1 unexpected error" in str(failure.value) and "[master]" in str(failure.value)
    assert "it broke" in str(failure.value)


def test_the_command_line_exits_1_on_an_error_and_0_when_it_was_declared(tmp_path, capsys):
    (tmp_path / "master.log").write_text(record("error", "it broke") + "\n")
    assert logguard.main([str(tmp_path)]) == 1
    assert "it broke" in capsys.readouterr().err
    assert logguard.main([str(tmp_path), "--expect", "master=it broke"]) == 0
    assert logguard.main([str(tmp_path), "--expect", "agent-*=it broke"]) == 1
    assert logguard.main([str(tmp_path / "nothing")]) == 2
