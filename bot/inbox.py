"""The inbox: every update is stored (encrypted) before the platform is told it arrived.

A duplicate delivery hits the unique key (channel, account, dedup_key) and is dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import String, bindparam, cast, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.events import Incoming
from storage import direct, step_commit
from storage.crypto import Keyring
from storage.db import autocommit_if, dialect_insert, engine_of
from storage.models import Identity, InboxEvent, UtcDateTime

MAX_TEXT = 20_000  # longer messages are cut here; the form still answers that it is too long


class Inbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: Keyring, clock) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.clock = clock
        self.listeners: list = []  # called (no arguments) after something new was stored

    async def put(self, event: Incoming) -> bool:
        """Store the event; True if it is new. Call before acknowledging it to the platform."""
        return (await self.put_many([event]))[0]

    async def put_many(self, events: list[Incoming]) -> list[bool]:
        """Store a batch (a Telegram getUpdates answer) in one transaction, in order; for each
        event, whether it is new. Each new one is handed to the listeners after the commit."""
        stored: list[Arrival] = []
        news: list[bool] = []
        engine = engine_of(self.sessions)
        # A Core connection, not an ORM session: nothing here is an ORM object, and the session's
        # bookkeeping cost more than the INSERT. On PostgreSQL one event is one statement in
        # autocommit (atomic by itself): its BEGIN and COMMIT were two round trips of three.
        async with autocommit_if(engine, len(events) == 1) as conn:
            statement = _store_statement(engine.dialect.name)
            raw = direct.connection_of(conn.sync_connection)  # SQLite's writer: straight to sqlite3
            for event in events:
                event = _bounded(event)
                # One statement: the ordering key is read inside the INSERT (order_key_of).
                params = {
                    "p_channel": event.channel, "p_account": event.account, "p_dedup": event.dedup_key[:128],
                    "p_conv": event.conv_key, "p_payload": self.keyring.encrypt(event.to_json()),
                    "p_now": self.clock.now(), "p_user": event.user_id}
                if raw is not None:
                    row = _STORE_DIRECT.run(raw, params).fetchone()
                else:
                    row = (await conn.execute(statement, params)).first()
                news.append(row is not None)
                if row is not None:
                    stored.append(Arrival(id=row[0], order_key=row[1], event=event))
        for arrival in stored:
            for listener in self.listeners:
                listener(arrival)
        return news


def _bounded(event: Incoming) -> Incoming:
    if event.text:
        text = unicodedata.normalize("NFC", event.text)
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + "…"
        event = replace(event, text=text)
    return event


@dataclass(frozen=True)
class Arrival:
    """A stored event, handed to the router in the same process: it need not be read back."""

    id: int
    order_key: str
    event: Incoming


def order_key_of():
    """One person's events are handled in order whichever channel they came from; a stranger's
    by chat. (Zalo identities are per bot or official account, like Telegram's per bot.)
    An SQL expression of the event's bound parameters, evaluated inside the INSERT."""
    identities = Identity.__table__.c
    person = (
        select(literal("person:") + cast(identities.person_id, String))
        .where(identities.channel == bindparam("p_channel"), identities.account == bindparam("p_account"),
               identities.external_id == bindparam("p_user"))
        .scalar_subquery()
    )
    return func.coalesce(person, bindparam("p_conv"))


_STORE: dict[str, object] = {}


def _store_statement(dialect: str):
    """The INSERT of one event, built once per dialect: its values are bound parameters, so it is
    compiled once and found in the cache after (building it was most of its cost)."""
    if dialect not in _STORE:
        table = InboxEvent.__table__
        _STORE[dialect] = (
            dialect_insert(dialect)(table).values(
                channel=bindparam("p_channel"), account=bindparam("p_account"), dedup_key=bindparam("p_dedup"),
                conv_key=bindparam("p_conv"), payload=bindparam("p_payload"),
                received_at=bindparam("p_now", type_=UtcDateTime), attempts=0, order_key=order_key_of())
            .on_conflict_do_nothing(index_elements=["channel", "account", "dedup_key"])
            .returning(table.c.id, table.c.order_key)
        )
    return _STORE[dialect]


async def pending_conversations(session: AsyncSession, limit: int = 200) -> list[tuple[str, int]]:
    """(ordering key, oldest pending event id) for the people and chats with unprocessed events."""
    rows = await session.execute(
        select(InboxEvent.order_key, InboxEvent.id)
        .where(InboxEvent.processed_at.is_(None))
        .order_by(InboxEvent.id)
        .limit(limit)
    )
    seen: dict[str, int] = {}
    for conv, event_id in rows:
        seen.setdefault(conv, event_id)
    return list(seen.items())


async def next_event(session: AsyncSession, conv_key: str) -> InboxEvent | None:
    """The oldest pending event of a person (or stranger's chat), unless an older event from the
    same chat still waits under another key (sent before the person enrolled): that one goes first."""
    row = await session.scalar(
        select(InboxEvent)
        .where(InboxEvent.order_key == conv_key, InboxEvent.processed_at.is_(None))
        .order_by(InboxEvent.id)
        .limit(1)
    )
    if row is None:
        return None
    earlier = await session.scalar(
        select(InboxEvent.id).where(
            InboxEvent.conv_key == row.conv_key, InboxEvent.processed_at.is_(None), InboxEvent.id < row.id
        ).limit(1)
    )
    return None if earlier is not None else row


_INBOX = InboxEvent.__table__
_DONE = (update(_INBOX).where(_INBOX.c.id == bindparam("p_id"), _INBOX.c.processed_at.is_(None))
         .values(processed_at=bindparam("p_now", type_=UtcDateTime), payload=None, error=None))
_GIVEN_UP = (update(_INBOX).where(_INBOX.c.id == bindparam("p_id"))
             .values(processed_at=bindparam("p_now", type_=UtcDateTime), payload=None, error=bindparam("p_error")))


_STORE_DIRECT = direct.Statement(_store_statement("sqlite"))
_DONE_DIRECT = direct.Statement(_DONE)


async def finish_step(session: AsyncSession, inbox_id: int, now: datetime) -> bool:
    """The step's last writes and its event marked done; False if it was marked already (another
    replica): the caller rolls the step back. On PostgreSQL the draft, the replies and the mark go
    as one statement (storage/step_commit.py); elsewhere they are written at the commit."""
    if session.bind.dialect.name == "postgresql":
        return await session.run_sync(step_commit.finish, inbox_id, now)
    return await mark_done(session, inbox_id, now)


async def mark_done(session: AsyncSession, inbox_id: int, now: datetime, *, error: str | None = None) -> bool:
    """The event is handled (or given up on, with `error`): nothing of what was said stays in the
    inbox. False if it was marked already (another replica): the caller's step must not count.
    (Statements built once, like the step's read; on SQLite's writer, straight to sqlite3.)"""
    if error is None:
        raw = direct.connection_of((await session.connection()).sync_connection)
        if raw is not None:
            return bool(_DONE_DIRECT.run(raw, {"p_id": inbox_id, "p_now": now}).rowcount)
        done = await session.execute(_DONE, {"p_id": inbox_id, "p_now": now})
    else:
        done = await session.execute(_GIVEN_UP, {"p_id": inbox_id, "p_now": now, "p_error": error[:200]})
    return bool(done.rowcount)
