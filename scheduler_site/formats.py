"""Wire formats at the API edge: timestamps, ids and bounded integers from text, and resource units
(CPU in cores at the API, millicores in storage; memory in MiB everywhere).

Pure standard library (an import contract holds it): the agent reads its `--cpu` with the same
`parse_cores` the master uses for task requests and node capacities."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

MILLICORES_PER_CORE = 1000
MAX_CORES = 1024
# A number as JSON writes it (plus a leading '+' or '.', and '1.'): no `1_000`, no non-ASCII
# digits, no NaN or Infinity, all of which Python's float() and Decimal() accept.
NUMBER_TEXT = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class QuantityError(ValueError):
    """A quantity that cannot be taken as written; `code` says why (invalid, positive, minimum,
    precision, max), the message says it to a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _number_parts(raw: object) -> tuple[bool, str, int] | None:
    """(negative, significant digits without leading or trailing zeros, power of ten), exactly,
    for an int, a float (as it prints: the shortest text that reads back to it), a Decimal or a
    string written like a JSON number; None for anything else. The digits are '' for zero."""
    text = getattr(raw, "text", None)  # a JSON number as the request wrote it (scheduler_site.parsers)
    if isinstance(text, str):
        raw = text
    if isinstance(raw, bool):
        return None
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            return None
        sign, digits, exponent = raw.as_tuple()
        raw = ("-" if sign else "") + "".join(map(str, digits)) + f"e{exponent}"
    elif isinstance(raw, int):
        raw = str(raw) if abs(raw) < 10**4000 else None  # past that, str() raises; far over any bound
        if raw is None:
            return (False, "1", 4000)
    elif isinstance(raw, float):
        raw = repr(raw)
        if raw in ("inf", "-inf", "nan"):
            return None
    if not isinstance(raw, str):
        return None
    match = NUMBER_TEXT.fullmatch(raw.strip())
    if not match:
        return None
    sign, whole, fraction, exponent = match.groups()
    fraction = fraction or ""
    if not whole and not fraction:
        return None  # "", ".", "e5"
    digits = (whole + fraction).lstrip("0")
    stripped = digits.rstrip("0")
    power = len(digits) - len(stripped) - len(fraction)
    if exponent:
        magnitude = exponent.lstrip("+-").lstrip("0") or "0"
        if len(magnitude) > 18:  # 10**(10**18): beyond any bound, either way; int() of it may refuse
            power += (-1 if exponent.startswith("-") else 1) * 10**18
        else:
            power += int(exponent)
    return (sign == "-", stripped, power)


def parse_cores(raw: object, *, maximum: int = MAX_CORES, what: str = "cores") -> int:
    """Millicores from a number of cores, exactly: any precision, any exponent, nothing rounded.

    Accepts an int, a float, a Decimal or a string written like a JSON number ('0.25', '2', '1e-3');
    refuses booleans, NaN, infinities, zero and negatives, anything below one millicore
    ('1e-999999999'), anything finer than a millicore ('1.0000000000000000000000000001') and
    anything over `maximum` cores, each with a QuantityError saying which."""
    parts = _number_parts(raw)
    if parts is None:
        raise QuantityError("invalid", f"Must be a number of {what}, such as 1 or 0.25.")
    negative, digits, power = parts
    if not digits or negative:
        raise QuantityError("positive", "Must be greater than 0.")
    power += 3  # cores to millicores
    if len(digits) + power <= 0:  # below 1: the number is under one millicore
        raise QuantityError("minimum", "At least 0.001 (1 millicore).")
    if power < 0:
        raise QuantityError("precision", "At most three decimals (1 millicore).")
    if len(digits) + power > len(str(maximum * MILLICORES_PER_CORE)):
        raise QuantityError("max", f"At most {maximum} {what}.")
    millicores = int(digits) * 10**power
    if millicores > maximum * MILLICORES_PER_CORE:
        raise QuantityError("max", f"At most {maximum} {what}.")
    return millicores


def millicores_to_cores(millicores: int) -> float | int:
    if millicores % MILLICORES_PER_CORE == 0:
        return millicores // MILLICORES_PER_CORE
    return millicores / MILLICORES_PER_CORE


MAX_ID = 2**63 - 1


def parse_int(raw: str, *, minimum: int, maximum: int) -> int | None:
    """A whole number written in ASCII digits (an optional '-'), within [minimum, maximum], or None:
    text of any length is answered (int() refuses more than 4,300 digits)."""
    text = str(raw)
    digits = text[1:] if text.startswith("-") else text
    if not digits.isascii() or not digits.isdigit():
        return None
    significant = digits.lstrip("0")
    if len(significant) > max(len(str(abs(minimum))), len(str(abs(maximum)))):
        return None
    value = int(significant or "0") * (-1 if text.startswith("-") else 1)
    return value if minimum <= value <= maximum else None


def parse_id(raw: str | int) -> int | None:
    """A database id from a URL or query string, or None for anything that cannot be one."""
    return parse_int(str(raw), minimum=1, maximum=MAX_ID)


def plural(count: float, singular: str, plural_form: str | None = None) -> str:
    """'1 core', '2 cores', '0.5 cores', '1 line', '3 lines'."""
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {singular if count == 1 else (plural_form or singular + 's')}"
