"""Storage on SQLite and on PostgreSQL: the same conversations, migrations, references, dedup."""

import asyncio

from sqlalchemy import select

from storage.db import head_revision, schema_version
from storage.models import InboxEvent, Report
from storage.reports import next_ref
from tests.helpers import enrolled, vi, walk_to_review


async def test_a_report_is_stored_on_both_databases(any_app):
    head = await enrolled(any_app)
    await walk_to_review(head)
    await head.press(vi("Confirm"))
    async with any_app.sessions() as s:
        [report] = (await s.scalars(select(Report))).all()
        assert report.ref == "BC-2026-0001" and report.attendees_female == 70
        events = (await s.scalars(select(InboxEvent))).all()
        assert events and all(e.processed_at and e.payload is None for e in events)
    assert await schema_version(any_app.engine) == head_revision()


async def test_references_are_unique_under_concurrency(any_app):
    async def take():
        async with any_app.sessions() as s, s.begin():
            return await next_ref(s, "xuanduong", "BC", 2026)

    refs = await asyncio.gather(*(take() for _ in range(8)))
    assert sorted(refs) == [f"BC-2026-{n:04d}" for n in range(1, 9)]


async def test_a_duplicate_delivery_is_stored_once(any_app):
    from core.events import Incoming

    event = Incoming(channel="fake", account="test", user_id="x", chat_id="x", dedup_key="42", text="hi")
    assert await any_app.inbox.put(event) is True
    assert await any_app.inbox.put(event) is False


async def test_migrations_are_idempotent(any_app):
    await any_app.prepare()
    from storage.db import migrate

    await migrate(any_app.engine)
    assert await schema_version(any_app.engine) == head_revision()


async def test_sqlite_writers_queue_for_one_connection_in_the_order_they_asked(tmp_path):
    """One writer: transactions that write are handed the single connection in arrival order as
    each one before ends (not woken by SQLite's busy handler in any order); a read-only
    transaction does not wait for them."""
    from sqlalchemy import text

    from storage.db import make_engine, reading, session_factory

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    sessions = session_factory(engine)
    try:
        async with sessions() as s, s.begin():
            await s.execute(text("CREATE TABLE t (n INTEGER)"))
        order: list[int] = []
        hold = asyncio.Event()

        async def write(n: int, wait: asyncio.Event | None = None) -> None:
            async with sessions() as s, s.begin():
                await s.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                order.append(n)
                if wait is not None:
                    await wait.wait()

        first = asyncio.create_task(write(0, hold))
        while not order:
            await asyncio.sleep(0.01)
        waiting = []
        for n in range(1, 21):
            waiting.append(asyncio.create_task(write(n)))
            await asyncio.sleep(0.005)
        async with reading(sessions)() as r, r.begin():  # not behind the 21 writers
            assert await r.scalar(text("SELECT count(*) FROM t")) == 0
        hold.set()
        await asyncio.wait_for(asyncio.gather(first, *waiting), 30)
        assert order == list(range(21))
        async with sessions() as s:
            assert await s.scalar(text("SELECT count(*) FROM t")) == 21
    finally:
        await engine.dispose()
