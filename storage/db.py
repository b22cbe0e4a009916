"""Engine, session factory and schema migrations. No global session: the factory is passed in."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from storage import sqlite_inline

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# PostgreSQL: a transaction that queued outbox rows its own process will not send tells the other
# replicas at its commit (NOTIFY is delivered with the commit, never for a rolled-back one).
OUTBOX_NOTIFY = "commune_bot_outbox"  # the LISTEN channel (bot/wakeups.py)
NOTIFY_OTHERS = "notify_others"  # session.info flag, set by storage/outbox.py

# aiosqlite logs every statement with its parameters at DEBUG: phone numbers among them.
logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def upsert_insert(session: AsyncSession):
    """The dialect's INSERT, which has on_conflict_do_nothing on both PostgreSQL and SQLite."""
    return dialect_insert(session.bind.dialect.name)


def dialect_insert(dialect: str):
    """upsert_insert by the dialect's name (for statements built once per dialect)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert if dialect == "postgresql" else sqlite_insert


def claim_rows(session: AsyncSession, stmt):
    """Rows for this process to work on: on PostgreSQL locked, and skipping those another replica
    holds (FOR UPDATE SKIP LOCKED); SQLite has one writer, so the statement stays as it is."""
    return stmt.with_for_update(skip_locked=True) if session.bind.dialect.name == "postgresql" else stmt


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_conn, record) -> None:
    # The driver's own transaction handling is switched off: we begin them ourselves, below.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # The writer's inline connection waits for another process's lock in short turns, the loop
    # free between them (storage/sqlite_inline.py); aiosqlite's connections wait on their thread.
    inline = getattr(record.driver_connection, "inline", False)
    cur.execute(f"PRAGMA busy_timeout={sqlite_inline.BUSY_MS if inline else 30000}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=ON")
    # FULL: an update acknowledged to the platform survives a power cut (NORMAL may lose the last ones).
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


READ_ONLY = "bot_read_only"  # an execution option: this transaction only reads (reading())


def _begin_immediate(conn) -> None:
    """Take SQLite's write lock at the start, so two writers queue (busy_timeout) instead of one
    failing when both read first and then write (what SELECT ... FOR UPDATE does on PostgreSQL).
    A transaction declared read-only (reading()) takes none: in WAL mode it never waits for a writer
    and no writer waits for it.

    On the writer's inline connection the BEGIN goes to sqlite3 at once: through an execution
    context it cost more than the statements of a short transaction (every step, ingest and
    delivery record has one). An error is raised as SQLAlchemy would have wrapped it."""
    read_only = conn.get_execution_options().get(READ_ONLY)
    driver = conn.connection.driver_connection
    if read_only or not getattr(driver, "inline", False):
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
        return
    try:
        await_only(driver.begin_immediate())
    except sqlite3.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error, dialect=conn.dialect) from exc


# SQLite has one writer at a time whatever we do. The engine holds ONE connection, so the
# transactions that write queue for it in the pool, in arrival order, and each is handed it the
# moment the one before ends; with several connections they queue inside SQLite's busy handler
# instead, which sleeps and polls (up to 100 ms a nap) and answers out of order. That connection
# runs on the event loop's thread (storage/sqlite_inline.py): its statements are short, and the
# thread hops of aiosqlite cost more than they do. Transactions declared read-only (reading())
# have connections of their own (READERS) on aiosqlite's threads, and in WAL mode never wait for
# the writer: every long read belongs there.
READERS = 4
WRITER_WAIT_SECONDS = 300  # the pool's wait for the writer's connection, before it gives up


def _sqlite_file(url: str) -> str:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return "" if path == ":memory:" else path.split("?", 1)[0]


def make_engine(url: str, **kwargs) -> AsyncEngine:
    if is_sqlite(url):
        path = _sqlite_file(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_timeout", WRITER_WAIT_SECONDS)
            kwargs.setdefault("async_creator", sqlite_inline.connector(path))
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    # The router keeps its steps below the pool's size (bot/router.py _step_slots): connections
    # beyond it are opened for a burst of jobs or reads and closed after.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    # No ping before every checkout (a round trip per transaction): connections are renewed after
    # half an hour, and a step that meets a dead one is tried again (bot/router.py).
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


@contextlib.asynccontextmanager
async def autocommit_if(engine: AsyncEngine, single: bool):
    """A connection for writes that are one statement (`single`): on PostgreSQL in autocommit, so
    the statement is its own transaction and costs one round trip, not three (BEGIN, it, COMMIT).
    Otherwise, and always on SQLite (its single writer begins and commits as usual, the COMMIT off
    the loop), engine.begin()."""
    if single and engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
        return
    async with engine.begin() as conn:
        yield conn


class BotSession(Session):
    """The sessions of the bot: a plain ORM session, with the commit-time hook below."""


@event.listens_for(BotSession, "before_commit")
def _notify_others(session: Session) -> None:
    if session.info.pop(NOTIFY_OTHERS, False) and session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOX_NOTIFY})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=BotSession)


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a session factory is bound to (for a Core connection where no ORM object is
    involved, or to ask which database it is)."""
    return sessions.kw["bind"]


def reading(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions on the same database for transactions that only read (a digest's or an export's
    figures): on SQLite they do not take the single write lock, nor wait for the writer's
    connection. Never write in one."""
    made = getattr(sessions, "_reading", None)
    if made is None:
        made = async_sessionmaker(_readers(engine_of(sessions)).execution_options(**{READ_ONLY: True}),
                                  expire_on_commit=False, sync_session_class=BotSession)
        sessions._reading = made  # noqa: SLF001 - one per factory
    return made


def _readers(engine: AsyncEngine) -> AsyncEngine:
    """SQLite (a file): an engine of READERS connections beside the writer's one, disposed with it.
    Elsewhere the engine itself."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "sqlite" or not _sqlite_file(url):
        return engine
    made = engine.sync_engine.__dict__.get("_bot_readers")
    if made is None:
        made = create_async_engine(url, pool_size=READERS, max_overflow=READERS)
        event.listen(made.sync_engine, "connect", _sqlite_pragmas)
        event.listen(made.sync_engine, "begin", _begin_immediate)
        engine.sync_engine.__dict__["_bot_readers"] = made
        event.listen(engine.sync_engine, "engine_disposed", lambda _e: made.sync_engine.dispose())
    return made


def _alembic_config(url: str):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def migrate(engine: AsyncEngine, keyring=None) -> None:
    """Bring the schema up to date. Safe to call from several processes at once.

    `keyring` (storage.crypto.Keyring): for migrations that encrypt what an older schema kept in
    clear (0008, people's phones); such a migration refuses to run on data without it."""
    from alembic import command

    url = engine.url.render_as_string(hide_password=False)
    cfg = _alembic_config(url)
    cfg.attributes["keyring"] = keyring

    def upgrade(connection) -> None:
        if connection.dialect.name == "postgresql":
            # One migrator at a time across replicas.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(72731001)")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(upgrade)


async def schema_version(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def head_revision() -> str:
    """The newest migration: what schema_version() should say after migrate()."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
