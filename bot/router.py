"""Runs the handlers over the inbox: one conversation at a time in order, different ones in parallel.

Each event is handled in one transaction together with the draft it changes, the replies it
queues and the mark that it was processed, so a crash either did all of it or none of it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import inbox as inbox_store
from bot.media import PhotoFetches
from bot.metrics import NO_METRICS
from core.events import Incoming, Reply
from core.i18n import DEFAULT_LANG, translate
from handlers import dispatch
from handlers.context import WAKE_JOBS, Ctx, Services
from handlers.safety import FLOOD_WINDOW
from storage import outbox as outbox_store
from storage.db import engine_of, reading
from storage.models import Identity, Person
from storage.people import find_identity, load_profile
from storage.step_read import end_step, read_step

log = logging.getLogger(__name__)


class _AlreadyHandled(Exception):
    """The event was marked done meanwhile (another replica): this step's work is rolled back."""


class _NeedsPhoto(Exception):
    """The event read from the database carries a photo not made ready yet (bot/media.py): the
    transaction ends, the photo is fetched outside it, and the step begins again."""

    def __init__(self, inbox_id: int, event: Incoming) -> None:
        super().__init__(inbox_id)
        self.inbox_id, self.event = inbox_id, event


class Router:
    """Events reach it in the process that stored them (Inbox.put hands each one over: nothing is
    polled for); the database is scanned at start-up and every SCAN_SECONDS as a safety net."""

    SCAN_SECONDS = 5.0

    def __init__(self, services: Services, sessions: async_sessionmaker[AsyncSession], on_queued=None,
                 metrics=None, claim=None, on_jobs=None, media: PhotoFetches | None = None) -> None:
        self.services = services
        self.metrics = metrics or NO_METRICS  # bot/metrics.py
        self.sessions = sessions
        self.on_queued = on_queued or (lambda rows=None: None)
        self.claim = claim or outbox_store.claim_on_queue  # how a step's replies are claimed as they are queued
        self.on_jobs = on_jobs or (lambda: None)  # a step left work for a job (Scheduler.wake)
        self.media = media or PhotoFetches()  # photos downloaded and cleaned before their step
        self._halt = asyncio.Event()  # set at stop: nothing waits for a download any longer
        self._wake = asyncio.Event()
        self._arrived: dict[str, collections.deque] = {}  # order key -> events handed over, oldest first
        self._busy: dict[str, asyncio.Task] = {}
        self._running = False
        self._stopping = False
        self._slots = _step_slots(engine_of(sessions))

    def wake(self, arrival: inbox_store.Arrival | None = None) -> None:
        """A new event (handed over), or a reason to look at the database (None)."""
        if arrival is None:
            self._wake.set()
            return
        self._arrived.setdefault(arrival.order_key, collections.deque()).append(arrival)
        if self._running:
            self._start(arrival.order_key)

    def _start(self, conv: str, from_db: bool = False) -> None:
        if conv in self._busy or self._stopping:
            return
        task = asyncio.create_task(self._drain_conversation(conv, from_db))
        self._busy[conv] = task
        task.add_done_callback(lambda _t, c=conv: self._finished(c))

    async def run(self, idle_seconds: float | None = None) -> None:
        self._running = True
        for conv in list(self._arrived):
            self._start(conv)
        while not self._stopping:
            self._wake.clear()
            try:
                await self.dispatch_pending()
            except Exception:  # noqa: BLE001
                log.exception("router pass failed")
            try:
                await asyncio.wait_for(self._wake.wait(), idle_seconds or self.SCAN_SECONDS)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._halt.set()
        self._wake.set()
        if self._busy:
            await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def dispatch_pending(self) -> None:
        """The safety net: conversations with events the hand-off did not bring (a restart, another
        replica's ingest)."""
        async with self.sessions() as session:
            convs = await inbox_store.pending_conversations(session)
        for conv, _ in convs:
            self._start(conv, from_db=True)

    def _finished(self, conv: str) -> None:
        self._busy.pop(conv, None)
        if self._arrived.get(conv) and not self._stopping:
            self._start(conv)  # handed over while the drain was ending

    async def _drain_conversation(self, conv: str, from_db: bool = False) -> None:
        """The events handed over, in order; `from_db` (the safety net): then what the database holds."""
        while not self._stopping:
            if not from_db and not self._arrived.get(conv):
                self._arrived.pop(conv, None)
                return
            if not await self.process_next(conv):
                if not self._arrived.get(conv):
                    self._arrived.pop(conv, None)
                elif self._running:  # waiting behind another replica or an older event of the chat
                    asyncio.get_running_loop().call_later(RETRY_SECONDS, self._start, conv)
                return

    async def run_until_idle(self) -> None:
        """Process everything pending, then return (tests and one-shot use)."""
        while True:
            for conv in list(self._arrived):
                await self._drain_conversation(conv)
            async with self.sessions() as session:
                convs = await inbox_store.pending_conversations(session)
            if not convs:
                return
            for conv, _ in convs:
                await self._drain_conversation(conv, from_db=True)

    async def process_next(self, conv: str, *, retried: bool = False) -> bool:
        """Handle the oldest pending event of a conversation; False when there is none."""
        services = self.services
        queue = self._arrived.get(conv)
        arrival = queue[0] if queue else None
        if arrival is not None and arrival.event.carries_photo and self.media.ready(arrival.id) is False:
            # Outside the transaction: the download started when the event was stored.
            if not await self.media.prepare(arrival.id, arrival.event, self._halt):
                return False
        started, ok, channel = time.perf_counter(), True, conv.split(":", 1)[0]
        handled: tuple[int, Incoming] | None = None
        dead, needs = False, None
        async with self._slots, self.sessions() as session:
            self.claim(session)
            try:
                async with session.begin():
                    if not await _lock_conversation(session, conv):
                        return False  # another replica is handling this person right now
                    now = services.clock.now()
                    since = now - FLOOD_WINDOW
                    step = None
                    if arrival is not None:
                        step = await read_step(session, arrival.id, arrival.event, since=since)
                        handled = (arrival.id, arrival.event)
                        if step.processed:
                            queue.popleft()
                            self.media.forget(arrival.id)
                            return True
                        if step.earlier:
                            step, handled = None, None  # an older one waits in the database: it goes first
                    if step is None:
                        row = await inbox_store.next_event(session, conv)
                        if row is None:
                            return False
                        event = Incoming.from_json(services.keyring.decrypt(row.payload))
                        handled = (row.id, event)
                        step = await read_step(session, row.id, event, since=since)
                    channel = handled[1].channel
                    handled = (handled[0], self._with_photo(*handled))
                    await self._handle(session, handled[0], handled[1], step, now)
            except _AlreadyHandled:
                pass
            except _NeedsPhoto as exc:
                needs = exc
            except Exception as exc:  # noqa: BLE001 - one bad event must not block the person's next ones
                outbox_store.take_queued(session)  # rolled back: none of them exists
                if isinstance(exc, DBAPIError) and exc.connection_invalidated and not retried:
                    dead = True  # the pool gave a connection the server had closed: once more, on a new one
                else:
                    ok = False
                    log.exception("handler failed on an event of channel %s", channel)
                if handled is not None and not dead:
                    await self._give_up(conv, handled, type(exc).__name__)
            finally:
                end_step(session)
            queued = outbox_store.take_queued(session)
            wake_jobs = session.info.pop(WAKE_JOBS, False) and ok and not dead
        if dead:
            return await self.process_next(conv, retried=True)
        if needs is not None:
            if not await self.media.prepare(needs.inbox_id, needs.event, self._halt):
                return False
            return await self.process_next(conv, retried=retried)
        if handled is not None:
            self.media.forget(handled[0])
        if arrival is not None and handled is not None and handled[0] == arrival.id:
            queue.popleft()
        self.metrics.event_handled(channel, time.perf_counter() - started, ok)
        self.on_queued(queued if ok else None)  # committed: the outbox sends them without reading them back
        if wake_jobs:
            self.on_jobs()
        return True

    def _with_photo(self, inbox_id: int, event: Incoming) -> Incoming:
        if not event.carries_photo:
            return event
        if self.media.ready(inbox_id) is False:
            raise _NeedsPhoto(inbox_id, event)
        return self.media.prepared(inbox_id, event)

    async def _handle(self, session: AsyncSession, inbox_id: int, event: Incoming, step, now) -> None:
        services = self.services
        person = step.profile
        lang = person.lang if person else _guess_lang(event.lang_hint)
        ctx = Ctx(services=services, session=session, event=event, person=person, lang=lang, inbox_id=inbox_id,
                  at=now, readers=reading(self.sessions))
        await dispatch.handle(ctx)
        # Only a person known when the step began: one enrolled or linked in it keeps the channel
        # they were reached on until they write again.
        if step.identity is not None and ctx.person is not None:
            _seen(step.identity, step.person, event, now)
        await ctx.send_queued()
        if not await inbox_store.finish_step(session, inbox_id, now):
            raise _AlreadyHandled

    async def _give_up(self, conv: str, handled: tuple[int, Incoming], error: str) -> None:
        """Mark the failing event done and apologise, so the conversation is not stuck on it."""
        services = self.services
        now = services.clock.now()
        inbox_id, event = handled
        async with self.sessions() as session, session.begin():
            if not await _lock_conversation(session, conv):
                return
            identity = await find_identity(session, event.channel, event.account, event.user_id)
            person = await load_profile(session, identity.person_id) if identity else None
            lang = person.lang if person else _guess_lang(event.lang_hint)
            await inbox_store.mark_done(session, inbox_id, now, error=error)
            outbox_store.queue_to_chat(
                session, services.keyring, channel=event.channel, account=event.account, chat_id=event.chat_id,
                person_id=person.id if person else None, now=now,
                reply=_apology(lang),
            )


def _step_slots(engine):
    """How many steps hold a database connection at once. On PostgreSQL fewer than the pool has:
    with a hundred people writing, a step per person each took one, the pool opened and closed
    connections beyond its size all the time (a connection, its statements prepared again, a
    server process, for one step), and a handler's read or a job found none free. The steps
    beyond wait here in arrival order. SQLite has one writer's connection, for which steps
    already queue in the pool: no limit."""
    sized = getattr(engine.pool, "size", None)
    if engine.dialect.name != "postgresql" or not callable(sized):
        return contextlib.nullcontext()
    return asyncio.Semaphore(max(1, sized() - STEP_SLOTS_SPARE))


STEP_SLOTS_SPARE = 4  # the pool's connections left to jobs, readers and the outbox
RETRY_SECONDS = 0.2  # a handed-over event that had to wait is tried again after this
SEEN_EVERY = timedelta(minutes=1)  # how stale an identity's last_seen_at may be (it orders channels)


def _seen(identity: Identity, person: Person | None, event: Incoming, now) -> None:
    """The person wrote from this chat: it becomes their preferred channel. Written only when
    something changed, or a minute has passed: most steps write nothing here."""
    if identity.chat_id != event.chat_id or identity.last_seen_at is None or now - identity.last_seen_at >= SEEN_EVERY:
        identity.last_seen_at = now
        identity.chat_id = event.chat_id
    if person is not None and person.preferred_channel != event.channel:
        person.preferred_channel = event.channel


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
