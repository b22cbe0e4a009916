"""The hot path's few writes, straight to the SQLite writer's own sqlite3 connection.

Through SQLAlchemy every statement, even one built and compiled once, pays an execution context,
bind and result processing and a greenlet switch: 30–100 µs, where sqlite3 itself takes 5–25 µs
for the short writes every step makes (the inbox's INSERT, the mark that an event is done, the
step's outbox rows, its draft). Those statements are compiled once for SQLite here and executed
on the writer's connection (storage/sqlite_inline.py), inside the transaction SQLAlchemy began:
it still begins, commits and rolls back. Anywhere else (PostgreSQL, an in-memory database, a
reader's connection) `connection_of` gives None and the caller goes through SQLAlchemy as before.

Parameters are bound as SQLAlchemy binds them on SQLite (storage/models.py UtcDateTime: aware
datetimes stored as naive UTC text); errors are raised as SQLAlchemy wraps them.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

_DIALECT = sqlite.dialect()


def connection_of(sync_connection) -> sqlite3.Connection | None:
    """The writer's sqlite3 connection under a begun SQLAlchemy (sync) Connection, or None."""
    driver = sync_connection.connection.driver_connection
    return driver.raw if getattr(driver, "inline", False) else None


def _bind(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DATETIME text
    if isinstance(value, bool):
        return int(value)
    return value


class Statement:
    """A Core statement compiled once for SQLite, its parameters taken by name."""

    def __init__(self, statement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        self.fixed = dict(compiled.params)  # the values written into the statement (attempts=0, NULLs)

    def _args(self, params: dict) -> list:
        fixed = self.fixed
        return [_bind(params[n] if n in params else fixed[n]) for n in self.names]

    def run(self, raw: sqlite3.Connection, params: dict) -> sqlite3.Cursor:
        try:
            return raw.execute(self.sql, self._args(params))
        except sqlite3.Error as exc:
            raise DBAPIError.instance(self.sql, params, exc, sqlite3.Error, dialect=_DIALECT) from exc

    def run_many(self, raw: sqlite3.Connection, rows: list[dict]) -> None:
        try:
            raw.executemany(self.sql, [self._args(p) for p in rows])
        except sqlite3.Error as exc:
            raise DBAPIError.instance(self.sql, rows, exc, sqlite3.Error, dialect=_DIALECT) from exc


def insert_returning_ids(raw: sqlite3.Connection, table, columns: tuple[str, ...], rows: list[dict]) -> list[int]:
    """Rows inserted with one statement, their new ids in the order given. SQLite gives each new
    row an id above every id in the table, one row after the other in the order of VALUES (and
    the writer's lock is held), so the ids in ascending order are the rows' in order."""
    one = "(" + ", ".join("?" * len(columns)) + ")"
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
           + ", ".join([one] * len(rows)) + " RETURNING id")
    args = [_bind(row[c]) for row in rows for c in columns]
    try:
        ids = sorted(r[0] for r in raw.execute(sql, args).fetchall())
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error, dialect=_DIALECT) from exc
    if len(ids) != len(rows):
        raise RuntimeError(f"{len(rows)} rows inserted into {table.name}, {len(ids)} ids returned")
    return ids


RECORD_CHUNK = 500  # rows per statement: three parameters each, far below SQLite's limit


def record_delivered(raw: sqlite3.Connection, table, now: datetime, rows: list[tuple[int, int, list | None]]) -> None:
    """Rows delivered: [(id, attempts, platform_ids)], in one UPDATE per RECORD_CHUNK rows, not
    one per row. The sent content goes (payload NULL) and so does the claim."""
    for at in range(0, len(rows), RECORD_CHUNK):
        chunk = rows[at:at + RECORD_CHUNK]
        sql = (f"WITH done(i, a, p) AS (VALUES {', '.join(['(?, ?, ?)'] * len(chunk))}) "
               f"UPDATE {table.name} SET delivered_at = ?, claimed_until = NULL, claimed_by = NULL, payload = NULL, "
               f"attempts = (SELECT a FROM done WHERE i = {table.name}.id), "
               f"platform_ids = (SELECT p FROM done WHERE i = {table.name}.id) "
               f"WHERE id IN (SELECT i FROM done)")
        args = [v for row_id, attempts, ids in chunk
                for v in (row_id, attempts, None if ids is None else json.dumps(ids))] + [_bind(now)]
        try:
            raw.execute(sql, args)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error, dialect=_DIALECT) from exc
