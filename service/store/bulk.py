"""Many rows in one INSERT whose text is the same for any number of rows (PostgreSQL).

SQLAlchemy writes a batch as ``INSERT … VALUES (…), (…)`` with a placeholder per value: a text
that changes with the batch's size, so the driver parses it again each time (psycopg caches no
statement that long) and the server plans it again. For the group committer's small batches
(service/store/group_commit.py) that cost more CPU than the rows' own work. Here the rows travel
as one JSON array, read by ``json_to_recordset``: one statement per table and column set, which
psycopg converts once and the server prepares, and one parameter.

Rows are inserted in the order given: the select is ordered by each row's place in the array, so
the identity column's values rise in that order (what SQLAlchemy's own batches rely on too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Table, TextClause, text
from sqlalchemy.orm import Session

_statements: dict[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], TextClause] = {}


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)


def _field_value(column: Column[Any], value: Any) -> Any:
    if _is_json(column):
        # A JSON value travels as its text, in a string: PostgreSQL's JSON functions refuse a \u0000
        # escape inside the rows' array, which the column itself keeps. None is JSON null, as
        # SQLAlchemy's JSON writes it (unless the column maps None to SQL NULL).
        none_as_null = getattr(column.type, "none_as_null", False)
        return None if value is None and none_as_null else json.dumps(value)
    if isinstance(value, datetime):  # as every datetime column keeps it: in UTC, naive meaning UTC
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()
    return value


def _statement(session: Session, table: Table, names: tuple[str, ...], conflict: tuple[str, ...],
               returning: tuple[str, ...]) -> TextClause:
    key = (table.name, names, conflict, returning)
    statement = _statements.get(key)
    if statement is None:
        dialect = session.get_bind().dialect
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(name) for name in names)

        def field(column: Column[Any]) -> str:
            # Text (for strings, JSON too) is checked by the insert itself, as a value bound to it is:
            # a cast to VARCHAR(n) would cut a value too long instead of refusing it.
            if _is_json(column) or isinstance(column.type, String):
                return "text"
            return str(column.type.compile(dialect=dialect))

        fields = ", ".join(f"{quote(name)} {field(table.c[name])}" for name in names)
        values = ", ".join(f"CAST({quote(name)} AS JSON)" if _is_json(table.c[name]) else quote(name) for name in names)
        sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({columns}) SELECT {values} "
               f"FROM ROWS FROM (json_to_recordset(CAST(:rows AS JSON)) AS ({fields})) "
               f"WITH ORDINALITY AS given({columns}, place) ORDER BY place")
        if conflict:
            sql += f" ON CONFLICT ({', '.join(quote(name) for name in conflict)}) DO NOTHING"
        sql += f" RETURNING {', '.join(quote(name) for name in returning)}"
        statement = _statements[key] = text(sql)
    return statement


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, returning: Sequence[str],
                skip_conflicts_on: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (column values, the same columns in each) into ``table`` on PostgreSQL in one
    statement; the ``returning`` columns of the rows inserted. Columns a row leaves out get their
    Python-side defaults, as an ORM or Core insert gives them. With ``skip_conflicts_on`` (the
    columns of a unique constraint), a row already there is left alone and not returned."""
    if not rows:
        return []
    given = tuple(rows[0])
    defaults = []
    for column in table.columns:
        if column.name in given or column.default is None:
            continue
        default: Any = column.default
        if not (default.is_scalar or default.is_callable):
            raise ValueError(f"{table.name}.{column.name}: only scalar and callable defaults can be filled in here")
        defaults.append((column.name, default))
    columns = [table.c[name] for name in given]
    documents = []
    for row in rows:
        document = {column.name: _field_value(column, row[column.name]) for column in columns}
        for name, default in defaults:
            # SQLAlchemy wraps a callable default to take the execution context; it needs none here.
            document[name] = _field_value(table.c[name], default.arg if default.is_scalar else default.arg(None))
        documents.append(document)
    names = given + tuple(name for name, _ in defaults)
    statement = _statement(session, table, names, tuple(skip_conflicts_on), tuple(returning))
    return [tuple(row) for row in session.connection().execute(statement, {"rows": json.dumps(documents)})]
