"""Server-side search over a task's whole log (every attempt, both streams): plain text or a
regular expression, case-insensitive, line by line, with the line numbers of docs/logs.md.

A line is matched where it is stored: a line continued across chunks (`cont`) is searched piece by
piece, under the number of the line it continues, so a match spanning two chunks is not found.
Regular expressions are Python's, refused when they nest quantifiers (the patterns whose
backtracking explodes), matched against at most MAX_REGEX_LINE characters of a line, and the
search stops at the time budget (the answer says so).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scheduler_site.exceptions import DomainError
from tasks.logs.store import STREAM_NAMES, text_of
from tasks.models import LogChunk, Task

MAX_QUERY_CHARS = 1000
MAX_REGEX_LINE = 10_000
SNIPPET_CHARS = 200
TIME_BUDGET = 5.0
SCAN_BATCH = 500
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")


@dataclass(frozen=True)
class Match:
    attempt: int
    line: int
    stream: str
    ts: float
    text: str


@dataclass
class Result:
    total: int
    matches: list[Match]
    complete: bool  # False: the time budget ran out before the end of the log


def matcher(query: str, *, regex: bool) -> Callable[[str], re.Match | int | None]:
    """The test a line must pass; a bad query is a DomainError on `q`."""
    if not query:
        raise DomainError("Must not be empty.", field="q")
    if len(query) > MAX_QUERY_CHARS:
        raise DomainError(f"Must be at most {MAX_QUERY_CHARS} characters.", field="q")
    if not regex:
        needle = query.lower()
        return lambda line: index if (index := line.lower().find(needle)) >= 0 else None
    if _NESTED_QUANTIFIER.search(query):
        raise DomainError("Nested quantifiers such as (a+)+ are not allowed.", field="q")
    try:
        pattern = re.compile(query, re.IGNORECASE)
    except re.error as error:
        raise DomainError(f"Not a valid regular expression: {error}.", field="q") from None
    return lambda line: pattern.search(line, 0, MAX_REGEX_LINE)


def _lines(chunk: LogChunk, open_line: dict[int, int]) -> Iterator[tuple[int, str]]:
    """(line number, text) of each piece of `chunk`, continued lines under their own number."""
    pieces = text_of(chunk.data).split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
        ends_open = False
    else:
        ends_open = bool(pieces)
    number = chunk.line
    for index, piece in enumerate(pieces):
        if index == 0 and chunk.cont:
            yield open_line.get(chunk.stream, max(0, number - 1)), piece
            continue
        yield number, piece
        number += 1
    if ends_open and not (chunk.cont and len(pieces) == 1):
        open_line[chunk.stream] = number - 1


def search_log(task: Task, query: str, *, regex: bool = False, attempt: int | None = None,
               stream: int | None = None, offset: int = 0, limit: int = 100,
               budget: float = TIME_BUDGET) -> Result:
    """Matching lines in order (attempt, line): the total count, and `limit` of them from `offset`."""
    test = matcher(query, regex=regex)
    deadline = time.monotonic() + budget
    rows = LogChunk.objects.filter(task=task)
    if attempt is not None:
        rows = rows.filter(attempt=attempt)
    rows = rows.order_by("attempt", "seq").only("attempt", "seq", "stream", "data", "ts", "line", "cont")
    total, matches, complete = 0, [], True
    current_attempt, open_line, last_seen = None, {}, None
    for chunk in rows.iterator(chunk_size=SCAN_BATCH):
        if chunk.attempt != current_attempt:
            current_attempt, open_line = chunk.attempt, {}
        if time.monotonic() > deadline:
            complete = False
            break
        lines = _lines(chunk, open_line)
        if stream is not None and chunk.stream != stream:
            for _ in lines:  # keep the open-line numbers right
                pass
            continue
        for number, text in lines:
            found = test(text)
            if found is None:
                continue
            if last_seen == (chunk.attempt, number):
                continue  # a continued line already counted
            last_seen = (chunk.attempt, number)
            if offset <= total < offset + limit:
                start = found.start() if isinstance(found, re.Match) else found
                matches.append(Match(attempt=chunk.attempt, line=number, stream=STREAM_NAMES[chunk.stream],
                                     ts=chunk.ts, text=_snippet(text, start)))
            total += 1
    return Result(total=total, matches=matches, complete=complete)


def _snippet(text: str, start: int) -> str:
    if len(text) <= SNIPPET_CHARS:
        return text
    begin = max(0, min(start - SNIPPET_CHARS // 4, len(text) - SNIPPET_CHARS))
    end = begin + SNIPPET_CHARS
    return ("…" if begin else "") + text[begin:end] + ("…" if end < len(text) else "")
