"""Batched SQL the ORM has no form for: one `UPDATE ... FROM (VALUES ...)` per thousand rows instead
of one statement per row (placement reservations, assignments, heartbeats write hundreds of rows a
batch). Written for the oldest store we support: SQLite 3.40 (the version this machine's Python
links) as well as PostgreSQL, so:
  - the rows are a CTE with named columns (`WITH v(id, cpu) AS (VALUES ...)`): SQLite has no
    column list on a FROM alias;
  - RETURNING names only columns of the updated table: SQLite's RETURNING cannot see the FROM
    tables (reading one there is the error "no such column");
  - rows updated are counted from RETURNING (Python's sqlite3 has no rowcount for a WITH statement);
  - on PostgreSQL each value is cast to its column's type, so a NULL is never an untyped parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

ROWS_PER_STATEMENT = 1000  # well under SQLite's 32,766 parameters


def update_from_values(
    table: str,
    *,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[object]],
    set_sql: str,
    set_params: Sequence[object] = (),
    where_sql: str = "",
    where_params: Sequence[object] = (),
    returning: Sequence[str] = (),
) -> tuple[int, list[tuple]]:
    """UPDATE `table` from `rows`, matched on the first of `columns` (name, PostgreSQL type) against
    the table's `id`. `set_sql` and `where_sql` refer to the rows as `v.<name>` and to the table by
    its name; `returning` names columns of `table` only. Returns (rows updated, rows returned)."""
    if not rows:
        return 0, []
    quoted = connection.ops.quote_name(table)
    names = ", ".join(name for name, _ in columns)
    if connection.vendor == "postgresql":
        placeholder = "(" + ", ".join(f"%s::{kind}" for _, kind in columns) + ")"
    else:
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    key = columns[0][0]
    condition = f"{quoted}.id = v.{key}" + (f" AND ({where_sql})" if where_sql else "")
    # Rows are counted from RETURNING: Python's sqlite3 leaves rowcount at -1 for a statement that
    # starts with WITH.
    tail = " RETURNING " + ", ".join(f"{quoted}.{column}" for column in (returning or ["id"]))
    updated, returned = 0, []
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        sql = (f"WITH v({names}) AS (VALUES {', '.join([placeholder] * len(chunk))}) "
               f"UPDATE {quoted} SET {set_sql} FROM v WHERE {condition}{tail}")
        params = [value for row in chunk for value in row] + list(set_params) + list(where_params)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            got = cursor.fetchall()
            updated += len(got)
            if returning:
                returned += got
    return updated, returned
