"""The SQLite writer's connection, run on the event loop's own thread.

aiosqlite gives every connection a thread and hands it each call: making a cursor, executing,
fetching and closing are four round trips between the threads for one statement (a queue, a
wake-up, `call_soon_threadsafe` back). For the short statements of the single writer
(storage/db.py) those hops cost more than SQLite itself: a transaction of six small statements
took 2.9 ms of wall and 2.4 ms of CPU through aiosqlite, 0.8 and 0.7 ms called directly (measured
on the development machine). So the writer's connection is an object shaped like aiosqlite's,
handed to SQLAlchemy's aiosqlite dialect through its documented `async_creator` hook, whose
coroutines call sqlite3 at once on the loop's thread. One call leaves it: COMMIT, which waits for
the disk (synchronous=FULL; 0.2–0.5 ms here, far more on an SD card), runs on a thread of its own
while the loop goes on.

What keeps that safe:
- Only the writer uses it. Long reads (a digest's or an export's figures, the figures commands)
  go through `storage.db.reading()`, whose connections stay on aiosqlite's threads.
- A lock held by another process (a command-line tool, a backup) never blocks the loop for long:
  SQLite waits at most BUSY_MS at a time, and the statement is tried again after an asyncio sleep,
  for up to BUSY_BUDGET_SECONDS in all (what `busy_timeout` gives aiosqlite's connections).
  Only statements that may be retried are: a BEGIN, a COMMIT, and one outside a transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

BUSY_MS = 5  # SQLite's own wait for another process's lock, blocking the loop (PRAGMA busy_timeout)
BUSY_BUDGET_SECONDS = 30.0  # then the statement fails as "database is locked", as with aiosqlite
_BUSY_SNAPSHOT = 517  # a stale read that wants to write: trying again cannot help


def connector(path: str):
    """An async_creator for create_async_engine: a new inline connection to the file."""

    async def connect() -> Connection:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        return Connection(conn)

    return connect


def _retryable(conn: sqlite3.Connection, sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return not conn.in_transaction or head.startswith(("BEGIN", "COMMIT"))


async def _call(conn: sqlite3.Connection, sql: str, fn, *args, executor=None):
    """fn(*args), on `executor`'s thread if one is given; on "database is locked" from another
    process, tried again after a pause."""
    deadline = None
    pause = 0.002
    while True:
        try:
            if executor is not None:
                return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
            return fn(*args)
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None) or 0
            if code & 0xFF != sqlite3.SQLITE_BUSY or code == _BUSY_SNAPSHOT or not _retryable(conn, sql):
                raise
            now = time.monotonic()
            deadline = deadline or now + BUSY_BUDGET_SECONDS
            if now >= deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)


class Cursor:
    """aiosqlite.Cursor's coroutines, each run at once."""

    __slots__ = ("_cursor", "_conn")

    def __init__(self, conn: sqlite3.Connection, cursor: sqlite3.Cursor) -> None:
        self._conn, self._cursor = conn, cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc) -> None:
        self._cursor.close()

    def __aiter__(self):
        return self._rows()

    async def _rows(self):
        while (row := self._cursor.fetchone()) is not None:
            yield row

    async def execute(self, sql: str, parameters=None) -> Cursor:
        if parameters is None:
            await _call(self._conn, sql, self._cursor.execute, sql)
        else:
            await _call(self._conn, sql, self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, seq) -> Cursor:
        await _call(self._conn, sql, self._cursor.executemany, sql, seq)
        return self

    async def fetchone(self):
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None):
        return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    async def fetchall(self):
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes) -> None:
        return None

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self):
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Now:
    """What SQLAlchemy's adapter puts (future, function) pairs on to reach aiosqlite's thread (it
    sets `isolation_level` that way): run here and now."""

    @staticmethod
    def put_nowait(item) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(exc)
        else:
            future.set_result(result)


class Connection:
    """aiosqlite.Connection as SQLAlchemy's aiosqlite adapter uses it."""

    inline = True  # storage/db.py: this connection's busy wait is kept short (BUSY_MS)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # falsy once closed, as in aiosqlite
        self._tx = _Now()
        # The COMMIT waits for the disk (synchronous=FULL): on a thread of its own, so the loop
        # goes on meanwhile. Nothing else uses the connection until it returns.
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-commit")

    def cursor(self) -> Cursor:
        return Cursor(self._conn, self._conn.cursor())

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (storage/direct.py)."""
        return self._conn

    @property
    def isolation_level(self):
        return self._conn.isolation_level

    async def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE straight to sqlite3 (storage/db.py _begin_immediate), with the same short
        waits for another process's lock as any statement here."""
        await _call(self._conn, "BEGIN IMMEDIATE", self._conn.execute, "BEGIN IMMEDIATE")

    async def commit(self) -> None:
        if self._conn.in_transaction:
            await _call(self._conn, "COMMIT", self._conn.commit, executor=self._committer)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args, **kwargs) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            # On the commit thread: after a COMMIT still running there (a cancelled caller's).
            await asyncio.get_running_loop().run_in_executor(self._committer, self._conn.close)
            self._committer.shutdown(wait=False)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._committer.submit(self._conn.close)
            self._committer.shutdown(wait=False)
