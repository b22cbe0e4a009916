"""Runs the handlers over the inbox: one conversation at a time in order, different ones in parallel.

Each event is handled in one transaction together with the draft it changes, the replies it
queues and the mark that it was processed, so a crash either did all of it or none of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import inbox as inbox_store
from bot.metrics import NO_METRICS
from core.events import Incoming, Reply
from core.i18n import DEFAULT_LANG, translate
from handlers import dispatch
from handlers.context import Ctx, Services
from storage import outbox as outbox_store
from storage.models import InboxEvent, Person
from storage.people import find_identity, load_profile

log = logging.getLogger(__name__)


class Router:
    def __init__(self, services: Services, sessions: async_sessionmaker[AsyncSession], on_queued=None,
                 metrics=None) -> None:
        self.services = services
        self.metrics = metrics or NO_METRICS  # bot/metrics.py
        self.sessions = sessions
        self.on_queued = on_queued or (lambda: None)
        self._wake = asyncio.Event()
        self._busy: dict[str, asyncio.Task] = {}
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self, idle_seconds: float = 1.0) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.dispatch_pending()
            except Exception:  # noqa: BLE001
                log.exception("router pass failed")
            try:
                await asyncio.wait_for(self._wake.wait(), idle_seconds)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._busy:
            await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def dispatch_pending(self) -> None:
        async with self.sessions() as session:
            convs = await inbox_store.pending_conversations(session)
        for conv, _ in convs:
            if conv not in self._busy:
                task = asyncio.create_task(self._drain_conversation(conv))
                self._busy[conv] = task
                task.add_done_callback(lambda _t, c=conv: self._finished(c))

    def _finished(self, conv: str) -> None:
        self._busy.pop(conv, None)
        self._wake.set()  # events may have arrived for it meanwhile

    async def _drain_conversation(self, conv: str) -> None:
        while not self._stopping:
            if not await self.process_next(conv):
                return

    async def run_until_idle(self) -> None:
        """Process everything pending, then return (tests and one-shot use)."""
        while True:
            async with self.sessions() as session:
                convs = await inbox_store.pending_conversations(session)
            if not convs:
                return
            for conv, _ in convs:
                await self._drain_conversation(conv)

    async def process_next(self, conv: str) -> bool:
        """Handle the oldest pending event of a conversation; False when there is none."""
        services = self.services
        started, ok, channel = time.perf_counter(), True, conv.split(":", 1)[0]
        async with self.sessions() as session:
            try:
                async with session.begin():
                    if not await _lock_conversation(session, conv):
                        return False  # another replica is handling this person right now
                    row = await inbox_store.next_event(session, conv)
                    if row is None:
                        return False
                    event = Incoming.from_json(services.keyring.decrypt(row.payload))
                    channel = event.channel
                    await self._handle(session, row, event)
            except Exception as exc:  # noqa: BLE001 - one bad event must not block the person's next ones
                ok = False
                log.exception("handler failed on an event of channel %s", channel)
                await self._give_up(conv, type(exc).__name__)
        self.metrics.event_handled(channel, time.perf_counter() - started, ok)
        self.on_queued()
        return True

    async def _handle(self, session: AsyncSession, row: InboxEvent, event: Incoming) -> None:
        services = self.services
        now = services.clock.now()
        identity = await find_identity(session, event.channel, event.account, event.user_id)
        person = await load_profile(session, identity.person_id) if identity else None
        lang = person.lang if person else _guess_lang(event.lang_hint)
        ctx = Ctx(services=services, session=session, event=event, person=person, lang=lang, inbox_id=row.id, at=now)
        await dispatch.handle(ctx)
        if identity is not None and ctx.person is not None:
            identity.last_seen_at = now
            identity.chat_id = event.chat_id
            db_person = await session.get(Person, identity.person_id)
            if db_person is not None:
                db_person.preferred_channel = event.channel
        await ctx.send_queued()
        inbox_store.mark_processed(row, now)

    async def _give_up(self, conv: str, error: str) -> None:
        """Mark the failing event done and apologise, so the conversation is not stuck on it."""
        services = self.services
        now = services.clock.now()
        async with self.sessions() as session, session.begin():
            if not await _lock_conversation(session, conv):
                return
            row = await inbox_store.next_event(session, conv)
            if row is None:
                return
            event = Incoming.from_json(services.keyring.decrypt(row.payload))
            identity = await find_identity(session, event.channel, event.account, event.user_id)
            person = await load_profile(session, identity.person_id) if identity else None
            lang = person.lang if person else _guess_lang(event.lang_hint)
            inbox_store.mark_processed(row, now, error=error[:200])
            outbox_store.queue_to_chat(
                session, services.keyring, channel=event.channel, account=event.account, chat_id=event.chat_id,
                person_id=person.id if person else None, now=now,
                reply=_apology(lang),
            )


def _apology(lang: str) -> Reply:
    return Reply(text=translate(lang, "Sorry, something went wrong on our side. Please send that again."))


def _guess_lang(hint: str | None) -> str:
    # Vietnamese first: many officials run their phones in English but read Vietnamese best.
    return DEFAULT_LANG


async def _lock_conversation(session: AsyncSession, conv: str) -> bool:
    """On PostgreSQL, one replica at a time handles a person: a transaction-scoped advisory lock.
    (SQLite means one process, whose router already runs a conversation at a time.)"""
    if session.bind.dialect.name != "postgresql":
        return True
    key = int.from_bytes(hashlib.blake2b(conv.encode(), digest_size=8).digest(), "big", signed=True)
    return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))
