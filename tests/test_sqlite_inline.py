"""The SQLite writer's connection on the event loop's thread (storage/sqlite_inline.py): what it
writes is stored and what it rolls back is not, another process's lock is waited for without
stopping the loop, a lock held too long fails as "database is locked", and the long reads keep
their threads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import sqlite_inline
from storage.db import make_engine, reading, session_factory


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    yield engine, tmp_path / "w.db"
    await engine.dispose()


def _rows(path) -> list[tuple]:
    with sqlite3.connect(path) as other:
        return other.execute("SELECT id, v FROM t ORDER BY id").fetchall()


async def test_a_commit_is_stored_and_a_rollback_is_not(engine):
    engine, path = engine
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await session.execute(text("INSERT INTO t (v) VALUES ('giữ')"))
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (v) VALUES ('bỏ')"))
            raise RuntimeError("the step failed")
    assert _rows(path) == [(1, "giữ")]  # read by another connection: on disk, committed
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert getattr(raw.driver_connection, "inline", False)  # the writer is the inline one
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == sqlite_inline.BUSY_MS
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL


async def test_another_process_lock_is_waited_for_with_the_loop_running(engine):
    """A backup or a command-line tool holds the write lock for 0.6 s: the write waits and then
    succeeds, and meanwhile the loop goes on (no gap between ticks near the lock's length)."""
    engine, path = engine
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (v) VALUES ('tool')")
        held.set()
        release.wait(5)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    await asyncio.to_thread(held.wait, 5)
    ticks: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    asyncio.get_running_loop().call_later(0.6, release.set)
    started = time.perf_counter()
    async with session_factory(engine)() as session, session.begin():
        await session.execute(text("INSERT INTO t (v) VALUES ('bot')"))
    waited = time.perf_counter() - started
    stop.set()
    await ticking
    holder.join()
    assert waited >= 0.5  # it did wait for the lock
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 20 and max(gaps) < 0.2  # the loop was never held for long meanwhile
    assert [v for _, v in _rows(path)] == ["tool", "bot"]


async def test_a_lock_held_past_the_budget_fails_as_locked(engine, monkeypatch):
    engine, path = engine
    monkeypatch.setattr(sqlite_inline, "BUSY_BUDGET_SECONDS", 0.3)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="locked"):
            async with session_factory(engine)() as session, session.begin():
                await session.execute(text("INSERT INTO t (v) VALUES ('late')"))
        assert 0.25 <= time.perf_counter() - started < 2
    finally:
        other.execute("ROLLBACK")
        other.close()
    async with session_factory(engine)() as session, session.begin():  # the lock gone: it writes again
        await session.execute(text("INSERT INTO t (v) VALUES ('again')"))
    assert [v for _, v in _rows(path)] == ["again"]


async def test_long_reads_keep_their_threads(engine):
    """reading() sessions (figures, exports) are aiosqlite's, on threads of their own, and see
    what the writer committed."""
    engine, _path = engine
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await session.execute(text("INSERT INTO t (v) VALUES ('một')"))
    async with reading(sessions)() as session, session.begin():
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        assert not getattr(raw.driver_connection, "inline", False)
        assert (await session.execute(text("SELECT v FROM t"))).scalars().all() == ["một"]


async def test_the_writer_takes_the_write_lock_at_begin_without_an_execution_context(engine):
    """A transaction on the writer holds SQLite's write lock from its BEGIN (another connection
    cannot write, even before the first statement), and the BEGIN goes to sqlite3 directly: no
    statement reaches SQLAlchemy's cursor events for it (storage/db.py _begin_immediate)."""
    from sqlalchemy import event

    engine, path = engine
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    other = sqlite3.connect(path, isolation_level=None, timeout=0.01)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.connection()  # begun: nothing executed yet
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            await session.execute(text("INSERT INTO t (v) VALUES ('bot')"))
        other.execute("BEGIN IMMEDIATE")  # committed: the lock is free again
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert seen == ["INSERT INTO t (v) VALUES ('bot')"]
    assert [v for _, v in _rows(path)] == ["bot"]
