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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Table, TextClause, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)


def _field_value(column: Column[Any], value: Any) -> Any:
    if _is_json(column):
        # A JSON value travels as its text, in a string: PostgreSQL's JSON functions refuse a \u0000
        # escape inside the rows' array, which the column itself keeps. None is JSON null, as
        # SQLAlchemy's JSON writes it (unless the column maps None to SQL NULL).
        none_as_null = getattr(column.type, "none_as_null", False)
        return None if value is None and none_as_null else json.dumps(value)
    return _plain_value(value)


_PLAIN, _JSON, _JSON_OR_NULL = 0, 1, 2  # how a column's value travels (_field_value)


def _kind(column: Column[Any]) -> int:
    if not _is_json(column):
        return _PLAIN
    return _JSON_OR_NULL if getattr(column.type, "none_as_null", False) else _JSON


def _plain_value(value: Any) -> Any:
    if isinstance(value, datetime):  # as every datetime column keeps it: in UTC, naive meaning UTC
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()
    return value


@dataclass(frozen=True)
class _Columns:
    """How one table's rows with one set of given columns travel in the array, worked out once:
    each given column's key in a row's JSON object and whether its value is JSON (sent as its
    text), the defaults of the columns the rows leave out, and the SQL that reads them back."""

    table: Table
    given: tuple[tuple[str, str, int], ...]  # column, key in the array, _PLAIN / _JSON / _JSON_OR_NULL
    constant: tuple[tuple[str, Any], ...]  # key, value: scalar defaults, converted once
    computed: tuple[tuple[str, Column[Any], Callable[[Any], Any]], ...]  # key, column, callable default
    names: tuple[str, ...]  # the columns inserted, given then defaulted
    keys: tuple[str, ...]  # their keys in the array, in the same order

    @classmethod
    def of(cls, table: Table, given: Sequence[str], prefix: str = "") -> _Columns:
        constant, computed, defaulted = [], [], []
        for column in table.columns:
            if column.name in given or column.default is None:
                continue
            default: Any = column.default
            if not (default.is_scalar or default.is_callable):
                raise ValueError(f"{table.name}.{column.name}: only scalar and callable defaults can be filled in here")
            if default.is_scalar:
                constant.append((prefix + column.name, _field_value(column, default.arg)))
            else:
                computed.append((prefix + column.name, column, default.arg))
            defaulted.append(column.name)
        names = tuple(given) + tuple(defaulted)
        return cls(table, tuple((name, prefix + name, _kind(table.c[name])) for name in given),
                   tuple(constant), tuple(computed), names, tuple(prefix + name for name in names))

    def fill(self, document: dict[str, Any], row: Mapping[str, Any], left_out: Sequence[str] = ()) -> None:
        """Put ``row``'s values (and defaults) into its object of the array; the ``left_out``
        columns travel as null."""
        for name, key, kind in self.given:
            value = row[name]
            if name in left_out:
                document[key] = None
            elif kind == _PLAIN:
                document[key] = _plain_value(value)
            else:
                document[key] = None if value is None and kind == _JSON_OR_NULL else json.dumps(value)
        document.update(self.constant)

    def computed_defaults(self) -> dict[str, Any]:
        """The callable defaults' values for one batch: the rows of one statement are written at
        one moment (SQLAlchemy wraps a callable default to take the execution context; these need none)."""
        return {key: _field_value(column, arg(None)) for key, column, arg in self.computed}

    def fields(self, dialect: Dialect) -> list[str]:
        """The array's fields as ``json_to_recordset`` declares them."""
        quote = dialect.identifier_preparer.quote

        def kind(column: Column[Any]) -> str:
            # Text (for strings, JSON too) is checked by the insert itself, as a value bound to it is:
            # a cast to VARCHAR(n) would cut a value too long instead of refusing it.
            if _is_json(column) or isinstance(column.type, String):
                return "text"
            return str(column.type.compile(dialect=dialect))

        return [f"{quote(key)} {kind(self.table.c[name])}" for name, key in zip(self.names, self.keys, strict=True)]

    def values(self, dialect: Dialect, source: str) -> list[str]:
        """The select list inserting the columns, from the fields of ``source``."""
        quote = dialect.identifier_preparer.quote
        return [f"CAST({source}.{quote(key)} AS JSON)" if _is_json(self.table.c[name]) else f"{source}.{quote(key)}"
                for name, key in zip(self.names, self.keys, strict=True)]


_statements: dict[tuple[Any, ...], tuple[TextClause, _Columns]] = {}
_linked_statements: dict[tuple[Any, ...], tuple[TextClause, _Columns, _Columns]] = {}


def _recordset(dialect: Dialect, fields: Sequence[str], keys: Sequence[str]) -> str:
    quote = dialect.identifier_preparer.quote
    return (f"ROWS FROM (json_to_recordset(CAST(:rows AS JSON)) AS ({', '.join(fields)})) "
            f"WITH ORDINALITY AS given({', '.join(quote(key) for key in keys)}, place)")


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, returning: Sequence[str],
                skip_conflicts_on: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (column values, the same columns in each) into ``table`` on PostgreSQL in one
    statement; the ``returning`` columns of the rows inserted. Columns a row leaves out get their
    Python-side defaults, as an ORM or Core insert gives them. With ``skip_conflicts_on`` (the
    columns of a unique constraint), a row already there is left alone and not returned."""
    if not rows:
        return []
    given = tuple(rows[0])
    key = ("rows", table.name, given, tuple(skip_conflicts_on), tuple(returning))
    found = _statements.get(key)
    if found is None:
        dialect = session.get_bind().dialect
        quote = dialect.identifier_preparer.quote
        columns = _Columns.of(table, given)
        sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
               f"({', '.join(quote(name) for name in columns.names)}) "
               f"SELECT {', '.join(columns.values(dialect, 'given'))} "
               f"FROM {_recordset(dialect, columns.fields(dialect), columns.keys)} ORDER BY place")
        if skip_conflicts_on:
            sql += f" ON CONFLICT ({', '.join(quote(name) for name in skip_conflicts_on)}) DO NOTHING"
        sql += f" RETURNING {', '.join(quote(name) for name in returning)}"
        found = _statements[key] = (text(sql), columns)
    statement, columns = found
    defaults = columns.computed_defaults()
    documents = []
    for row in rows:
        document = dict(defaults)
        columns.fill(document, row)
        documents.append(document)
    return [tuple(row) for row in session.connection().execute(statement, {"rows": json.dumps(documents)})]


def insert_linked(session: Session, parent: Table, pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], *,
                  child: Table, link: str, key: Sequence[str]) -> dict[tuple[Any, ...], int]:
    """Insert parent rows and, for each parent row inserted, its child row (whose ``link`` column
    gets the parent's id), in one statement on PostgreSQL: one round trip and one statement to
    prepare instead of two (both tables' primary key is ``id``). A parent row whose ``key`` (the columns of a unique constraint) is
    already there is left alone, and its child is not inserted. The children's ids by their
    parents' key values.

    Each pair's rows have the same columns as every other pair's (the child's ``link`` is left out),
    and no two pairs' parents have the same key.
    A child's JSON value that is the very object of its parent's same column (an event kept as it
    arrived and run as it is) travels once and is written to both.
    """
    if not pairs:
        return {}
    first_parent, first_child = pairs[0]
    parent_given = tuple(first_parent)
    child_given = tuple(name for name in first_child if name != link)
    # The child's JSON columns that may share their parent's value (never one where SQL NULL means
    # something: a shared value travels as the child's NULL).
    shareable = tuple(name for name in child_given if name in parent_given and _kind(child.c[name]) == _JSON
                      and _kind(parent.c[name]) == _JSON)
    cache_key = ("linked", parent.name, parent_given, child.name, child_given, link, tuple(key))
    found = _linked_statements.get(cache_key)
    if found is None:
        dialect = session.get_bind().dialect
        quote = dialect.identifier_preparer.quote
        parents, children = _Columns.of(parent, parent_given, "p."), _Columns.of(child, child_given, "c.")
        child_values = children.values(dialect, "given")
        for name in shareable:  # a child's NULL here stands for its parent's value
            at = children.names.index(name)
            child_values[at] = (f"CAST(COALESCE(given.{quote('c.' + name)}, given.{quote('p.' + name)}) AS JSON)")
        matches = " AND ".join(f"inserted.{quote(name)} = given.{quote('p.' + name)}" for name in key)
        table = dialect.identifier_preparer.format_table
        recordset = _recordset(dialect, parents.fields(dialect) + children.fields(dialect), parents.keys + children.keys)
        key_names = ", ".join(quote(name) for name in key)
        sql = (f"WITH given AS (SELECT * FROM {recordset}), "
               f"inserted AS (INSERT INTO {table(parent)} ({', '.join(quote(name) for name in parents.names)}) "
               f"SELECT {', '.join(parents.values(dialect, 'given'))} FROM given ORDER BY place "
               f"ON CONFLICT ({key_names}) DO NOTHING RETURNING id, {key_names}), "
               f"linked AS (INSERT INTO {table(child)} ({', '.join(quote(name) for name in children.names)}, "
               f"{quote(link)}) SELECT {', '.join(child_values)}, inserted.id FROM given JOIN inserted ON {matches} "
               f"ORDER BY place RETURNING id, {quote(link)}) "
               f"SELECT {', '.join(f'inserted.{quote(name)}' for name in key)}, linked.id FROM linked "
               f"JOIN inserted ON inserted.id = linked.{quote(link)}")
        found = _linked_statements[cache_key] = (text(sql), parents, children)
    statement, parents, children = found
    defaults = {**parents.computed_defaults(), **children.computed_defaults()}
    documents = []
    for parent_row, child_row in pairs:
        document = dict(defaults)
        parents.fill(document, parent_row)
        children.fill(document, child_row, [name for name in shareable if child_row[name] is parent_row[name]])
        documents.append(document)
    rows = session.connection().execute(statement, {"rows": json.dumps(documents)})
    return {tuple(row[:-1]): int(row[-1]) for row in rows}
