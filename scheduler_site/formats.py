"""Wire formats at the API edge: timestamps, and resource units (CPU in cores at the API,
millicores in storage; memory in MiB everywhere)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

MILLICORES_PER_CORE = 1000


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def cores_to_millicores(cores: Decimal | int | str) -> int:
    """Exact conversion; the caller has checked that `cores` has at most three decimals."""
    return int(Decimal(cores) * MILLICORES_PER_CORE)


def millicores_to_cores(millicores: int) -> float | int:
    if millicores % MILLICORES_PER_CORE == 0:
        return millicores // MILLICORES_PER_CORE
    return millicores / MILLICORES_PER_CORE


MAX_ID = 2**63 - 1


def parse_id(raw: str | int) -> int | None:
    """A database id from a URL or query string, or None for anything that cannot be one."""
    text = str(raw)
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def plural(count: float, singular: str, plural_form: str | None = None) -> str:
    """'1 core', '2 cores', '0.5 cores', '1 line', '3 lines'."""
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {singular if count == 1 else (plural_form or singular + 's')}"
