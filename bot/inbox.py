"""The inbox: every update is stored (encrypted) before the platform is told it arrived.

A duplicate delivery hits the unique key (channel, account, dedup_key) and is dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.events import Incoming
from storage.crypto import Keyring
from storage.db import upsert_insert
from storage.models import Identity, InboxEvent

MAX_TEXT = 20_000  # longer messages are cut here; the form still answers that it is too long


class Inbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: Keyring, clock) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.clock = clock
        self.listeners: list = []  # called (no arguments) after something new was stored

    async def put(self, event: Incoming) -> bool:
        """Store the event; True if it is new. Call before acknowledging it to the platform."""
        if event.text:
            text = unicodedata.normalize("NFC", event.text)
            if len(text) > MAX_TEXT:
                text = text[:MAX_TEXT] + "…"
            event = replace(event, text=text)
        values = dict(
            channel=event.channel, account=event.account, dedup_key=event.dedup_key[:128],
            conv_key=event.conv_key, payload=self.keyring.encrypt(event.to_json()),
            received_at=self.clock.now(), attempts=0,
        )
        async with self.sessions() as session, session.begin():
            values["order_key"] = await order_key(session, event)
            insert = upsert_insert(session)
            result = await session.execute(
                insert(InboxEvent).values(**values).on_conflict_do_nothing(
                    index_elements=["channel", "account", "dedup_key"]
                )
            )
            new = bool(result.rowcount)
        if new:
            for listener in self.listeners:
                listener()
        return new


async def order_key(session: AsyncSession, event: Incoming) -> str:
    """One person's events are handled in order whichever channel they came from; a stranger's
    by chat. (Zalo identities are per bot or official account, like Telegram's per bot.)"""
    person_id = await session.scalar(
        select(Identity.person_id).where(
            Identity.channel == event.channel, Identity.account == event.account, Identity.external_id == event.user_id
        )
    )
    return f"person:{person_id}" if person_id is not None else event.conv_key


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


def mark_processed(row: InboxEvent, now: datetime, error: str | None = None) -> None:
    row.processed_at = now
    row.payload = None  # nothing of what was said stays in the inbox
    row.error = error
