"""The array syntax of Slurm's `--array`, parsed (pure: no Django): "0-99", "0-99:2", "1,3,7",
"0-9,20-29:5", each with an optional "%N" suffix (at most N elements running at once).

Indices are whole numbers from 0 to MAX_INDEX; an index named twice counts once; at most
MAX_ELEMENTS indices in all (counted before any list is built, so "0-999999999" costs nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ELEMENTS = 10_000
MAX_INDEX = 10_000_000
MAX_SPEC_LENGTH = 200
_ITEM = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9})(?::([0-9]{1,9}))?)?")
_THROTTLE = re.compile(r"%([0-9]{1,9})")


class ArraySpecError(ValueError):
    """The text is not a valid array; the message says what is wrong."""


@dataclass(frozen=True)
class ArraySpec:
    indices: tuple[int, ...]  # ascending, distinct
    throttle: int | None  # at most this many running at once; None: no limit

    @property
    def size(self) -> int:
        return len(self.indices)


def parse(text: str) -> ArraySpec:
    if not isinstance(text, str):
        raise ArraySpecError("Must be a string such as \"0-99\", \"1,3,7\" or \"0-999%20\".")
    if len(text) > MAX_SPEC_LENGTH:
        raise ArraySpecError(f"At most {MAX_SPEC_LENGTH} characters.")
    body, sep, limit = text.partition("%")
    throttle = None
    if sep:
        if not _THROTTLE.fullmatch(sep + limit):
            raise ArraySpecError(f"{'%' + limit!r}: the limit after % must be a whole number.")
        throttle = int(limit)
        if throttle < 1:
            raise ArraySpecError("%0 would never run anything: the limit after % must be at least 1.")
    if not body:
        raise ArraySpecError("No indices: write e.g. \"0-99\" or \"1,3,7\".")
    ranges = []
    count = 0
    for item in body.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ArraySpecError(f"{item!r} is not an index, a range N-M or a range with a step N-M:S.")
        start = int(match.group(1))
        stop = int(match.group(2)) if match.group(2) is not None else start
        step = int(match.group(3)) if match.group(3) is not None else 1
        if stop < start:
            raise ArraySpecError(f"{item!r}: the range ends before it starts.")
        if step < 1:
            raise ArraySpecError(f"{item!r}: the step must be at least 1.")
        if stop > MAX_INDEX:
            raise ArraySpecError(f"{item!r}: indices go up to {MAX_INDEX}.")
        count += (stop - start) // step + 1
        if count > MAX_ELEMENTS * 2:  # duplicates aside, far too many: stop before building anything
            raise ArraySpecError(f"More than {MAX_ELEMENTS} elements.")
        ranges.append(range(start, stop + 1, step))
    indices = sorted({index for span in ranges for index in span})
    if len(indices) > MAX_ELEMENTS:
        raise ArraySpecError(f"{len(indices)} elements; at most {MAX_ELEMENTS}.")
    return ArraySpec(indices=tuple(indices), throttle=throttle)
