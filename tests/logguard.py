"""The error-log guard: a run that started real processes (a test's cluster, the e2e run, a
benchmark, the demo smoke run) reads every process's log at the end and fails when any holds an
ERROR or CRITICAL line or a traceback that the run did not declare expected.

Logs are the processes' stderr: one JSON object per line (scheduler_site/logformat.py), with
plain lines between them (daphne's access log, anything printed before logging was set up). A
plain traceback spans several lines and is judged as one entry. A run declares what it provokes on
purpose with narrow patterns, each for a process (a glob on its name):

    cluster.expect_log(r"websocket connect failed", process="agent-*")

Plain Python (no Django, no pytest) so bench/ and the e2e run can use it;
`python -m tests.logguard DIR [--expect PROCESS=REGEX ...]` checks a directory of `NAME.log`
files and exits 1 with the offending lines.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ERROR_LEVELS = {"error", "critical", "fatal"}
TRACEBACK = "Traceback (most recent call last)"
PLAIN_ERROR = re.compile(r"^(ERROR|CRITICAL|FATAL)\b|Unhandled error in Deferred|Traceback \(most recent call last\)")
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
SHOWN_PER_ENTRY = 600  # characters of one offending entry in the failure message (the log has it whole)


@dataclass(frozen=True)
class Expected:
    """An error a run provokes on purpose: `pattern` searched in the entry, for processes whose
    name matches the glob `process`."""

    pattern: re.Pattern[str]
    process: str = "*"

    @classmethod
    def of(cls, pattern: str, process: str = "*") -> Expected:
        compiled = re.compile(pattern)
        if compiled.search("") is not None or compiled.search("x" * 20) is not None:
            raise ValueError(f"expected-log pattern {pattern!r} matches anything: declare the error you provoke")
        return cls(compiled, process)

    def covers(self, process: str, entry: str) -> bool:
        return fnmatch.fnmatchcase(process, self.process) and self.pattern.search(entry) is not None


@dataclass(frozen=True)
class Problem:
    process: str
    entry: str

    def __str__(self) -> str:
        return f"[{self.process}] {summary(self.entry)}"


def summary(entry: str) -> str:
    """One offending entry, short: a JSON record's level, logger and message with the last lines
    of its traceback (the exception); a plain entry's first and last lines."""
    record = _record(entry)
    if record is not None:
        text = f"{record.get('ts', '')} {record.get('level', '')} {record.get('logger', '')}: {record.get('msg', '')}"
        exc = str(record.get("exc", ""))
        if exc:
            lines = [line.strip() for line in exc.strip().splitlines() if line.strip(" ^~")]
            text += " | " + " / ".join(lines[-2:])
    else:
        lines = entry.splitlines()
        text = entry if len(lines) <= 6 else "\n    ".join([*lines[:2], "...", *lines[-3:]])
    return text if len(text) <= SHOWN_PER_ENTRY else text[:SHOWN_PER_ENTRY] + " [...]"


def _record(entry: str) -> dict | None:
    if not entry.startswith("{"):
        return None
    try:
        record = json.loads(entry)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def entries(text: str) -> Iterator[str]:
    """The log's entries: each JSON line alone; a plain traceback with the lines that belong to it
    (indented frames, up to and including the exception's own line); any other plain line alone."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith(TRACEBACK):
            block = [line]
            while i < len(lines):
                following = lines[i]
                if following.startswith((" ", "\t", TRACEBACK)):
                    block.append(following)
                elif not following.strip() or following.startswith(CHAINED):
                    if not _next_starts(lines, i, (*CHAINED, TRACEBACK)):
                        break
                    block.append(following)
                elif following.startswith("{"):
                    break
                else:  # the exception's own line ("ValueError: ..."): the end, unless a chain follows
                    block.append(following)
                    if not _next_starts(lines, i + 1, CHAINED):
                        i += 1
                        break
                i += 1
            yield "\n".join(block)
        elif line.strip():
            yield line


def _next_starts(lines: list[str], start: int, prefixes: tuple[str, ...]) -> bool:
    """Whether the first non-blank line from `start` on starts with one of `prefixes`."""
    for line in lines[start:]:
        if line.strip():
            return line.startswith(prefixes)
    return False


def is_error(entry: str) -> bool:
    """An ERROR/CRITICAL record, or any traceback (a warning that carries one counts too)."""
    record = _record(entry)
    if record is not None:
        return str(record.get("level", "")).lower() in ERROR_LEVELS or TRACEBACK in entry
    return PLAIN_ERROR.search(entry) is not None


def problems(logs: Mapping[str, str], expected: Iterable[Expected] = ()) -> list[Problem]:
    """Every error entry of every process's log that no expectation covers."""
    expected = list(expected)
    found = []
    for process, text in logs.items():
        for entry in entries(text):
            if is_error(entry) and not any(e.covers(process, entry) for e in expected):
                found.append(Problem(process, entry))
    return found


def read_dir(directory: Path | str) -> dict[str, str]:
    """`NAME.log` files of a directory, by NAME."""
    return {path.stem: path.read_text(errors="replace") for path in sorted(Path(directory).glob("*.log"))}


def report(found: list[Problem], *, where: str = "") -> str:
    head = f"{len(found)} unexpected error line(s) in the logs of the processes this run started"
    head += f" ({where})" if where else ""
    head += ". Fix the bug, or declare an error the run provokes on purpose (expect_log, narrow pattern):"
    return "\n".join([head, *(f"  {problem}" for problem in found)])


def check(logs: Mapping[str, str], expected: Iterable[Expected] = (), *, where: str = "") -> None:
    """Raise AssertionError listing the unexpected errors, if any."""
    found = problems(logs, expected)
    if found:
        raise AssertionError(report(found, where=where))


def parse_expectation(text: str) -> Expected:
    """`PROCESS=REGEX` (a glob on the process name, `*` for any) from the command line."""
    process, sep, pattern = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--expect {text!r}: expected PROCESS=REGEX")
    try:
        return Expected.of(pattern, process or "*")
    except (re.error, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.logguard", description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="a directory of NAME.log files (one per process)")
    parser.add_argument("--expect", action="append", type=parse_expectation, default=[],
                        metavar="PROCESS=REGEX", help="an error the run provoked on purpose (repeatable)")
    args = parser.parse_args(argv)
    logs = read_dir(args.directory)
    if not logs:
        print(f"logguard: no *.log file in {args.directory}", file=sys.stderr)
        return 2
    found = problems(logs, args.expect)
    if found:
        print(report(found, where=str(args.directory)), file=sys.stderr)
        return 1
    print(f"logguard: {len(logs)} process log(s) in {args.directory}, no unexpected error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
