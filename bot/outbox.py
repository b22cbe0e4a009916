"""The outbox: everything the bot sends is queued in the database in the transaction that decided
it, then delivered in order per chat, with retries, back-off and the platform's retry_after.

Only a message in flight when the process dies may be sent twice; nothing is lost.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import socket
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.limits import URGENT as URGENT_SEND
from bot.metrics import NO_METRICS
from core.events import Delivery, Reply
from handlers.admin_notices import undeliverable
from handlers.context import Outgoing
from handlers.reachability import TEMPLATE_CHANNEL, template_for_held
from storage import chatlists, direct
from storage.crypto import Keyring
from storage.db import autocommit_if, engine_of, reading
from storage.models import OutboxMessage
from storage.outbox import (
    LEASE_SECONDS,
    Stored,
    claim_on_queue,
    decode_payload,
    fall_back,
    queue_template,
    read_blob,
    stored_of,
)
from storage.people import OA_CHANNEL, held_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FALLBACK_KINDS = ("push", "digest")  # alerts already go to every channel; replies belong to their chat
URGENT_KINDS = ("alert",)  # urgent alerts and escalations: their own lane, ahead of every other kind


class Outbox:
    """Delivers queued messages through the channels registered with it.

    It holds, per chat, the rows it has claimed, oldest first: those a step queued in this process
    arrive claimed with the step's commit (storage/outbox.py claim_on_queue); the database is
    scanned for the others (jobs, another replica, a restart). Each chat sends one message at a
    time; urgent alerts never wait for a free sending slot. Results are recorded together, at most
    RECORD_LIMIT after the answer came (README: what a crash may repeat)."""

    MAX_IN_FLIGHT = 32  # sends of other kinds at once (the channels pace them further)
    RECORD_WINDOW = 0.02  # seconds: how long a delivery's result waits to be recorded with others
    RECORD_LIMIT = 0.05  # seconds: the longest it waits (README: what a crash may send twice)
    RENEW_SECONDS = LEASE_SECONDS / 3  # how often a replica renews the leases of the rows it holds

    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: Keyring, clock, *, fallback=None,
                 metrics=None, services=None, owner: str | None = None) -> None:
        self.sessions = sessions
        # Whose claims are whose: a replica named by BOT_REPLICA takes its own back at once after a
        # restart; an unnamed one gets a name of its own, and its claims lapse LEASE_SECONDS after it died.
        self.owner = owner or f"{socket.gethostname()[:48]}-{uuid.uuid4().hex[:8]}"
        self.leases = True  # renew them (PostgreSQL); SQLite has one process, which voids all at start
        self._renewed = time.monotonic()
        self.services = services  # to tell the admins of a push nobody could take
        self.metrics = metrics or NO_METRICS  # bot/metrics.py
        self.keyring = keyring
        self.clock = clock
        self.channels: dict[str, object] = {}
        self.fallback = fallback  # demo: a printer for messages to channels not running here
        self._wake = asyncio.Event()
        self._scan_asked = True
        self._backlog = False  # the last scan took a full batch: more may be waiting
        self._stopping = False
        self._queues: dict[tuple[str, str], list[OutboxMessage]] = {}  # chat -> claimed rows, by id
        self._held: set[int] = set()  # ids of the rows in _queues, and of those ended but not yet recorded
        self._sending: dict[tuple[str, str], asyncio.Task] = {}
        self._results: list[tuple[OutboxMessage, Delivery]] = []
        self._recorder: asyncio.Task | None = None
        self._blobs: dict[str, bytes] = {}  # blob key -> content (storage/outbox.py), oldest first
        self._last_sent: dict[tuple[str, str, str | None], str] = {}  # (channel, chat, tag) -> platform id
        # The transactions that update this replica's own claimed rows (renewing their leases,
        # recording results, releasing them at stop) take turns: run side by side on PostgreSQL
        # they locked the same rows in different orders, and one died of a deadlock.
        self._own_rows = asyncio.Lock()

    async def release_claims(self) -> None:
        """At the start of the only process (SQLite): claims left by a killed process are void."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.claimed_until.is_not(None))
                .values(claimed_until=None, claimed_by=None)
            )

    def claim_queued(self, session: AsyncSession) -> None:
        """A step's session: the replies it queues that this process can send are claimed by it."""
        claim_on_queue(session, self.owner, lambda channel, account: self._sender(channel, account) is not None)

    def register(self, channel) -> None:
        self.channels[channel.name] = channel
        if channel.per_account:  # Zalo: one bot or official account per commune
            self.channels[f"{channel.name}:{channel.account}"] = channel

    def wake(self, rows: list[OutboxMessage] | None = None) -> None:
        """New rows handed over by the step that queued them, or (None) a reason to scan the database."""
        if rows:
            self.accept(rows)
        else:
            self._scan_asked = True
        self._wake.set()

    def accept(self, rows: list[OutboxMessage]) -> None:
        for row in rows:
            if row.id is None or row.id in self._held:
                continue
            if self._sender(row.channel, row.account) is None:
                continue  # not this process's to send: its claim lapses and the scan of the process that can takes it
            self._held.add(row.id)
            bisect.insort(self._queues.setdefault((row.channel, row.chat_id), []), row, key=lambda r: r.id)

    def _sender(self, name: str, account: str | None = None):
        exact = self.channels.get(f"{name}:{account}")
        if exact is not None:
            return exact
        channel = self.channels.get(name)
        if channel is not None and channel.per_account:
            channel = None  # a chat of another bot account: not this one's to send
        return channel or self.fallback

    SCAN_SECONDS = 1.0  # the database is scanned this often when nothing woke the outbox
    BATCH = 100  # rows claimed by one scan
    BLOB_CACHE = 8  # files and pictures kept in memory: a digest's few, for all its recipients

    async def take_up(self) -> None:
        """At start: what the last run left queued, claimed before any step hands new replies over,
        so a chat's old messages go out ahead of its new ones."""
        self.accept(await self._claim(500))
        self._scan_asked = False

    async def run(self, idle_seconds: float | None = None) -> None:
        idle_seconds = idle_seconds or self.SCAN_SECONDS
        while not self._stopping:
            self._wake.clear()  # before the pass: a wake-up during it is not lost
            try:
                if self.leases and self._held and time.monotonic() - self._renewed >= self.RENEW_SECONDS:
                    await self._renew()
                # A scan when asked, and while a backlog (a broadcast) is left in the database as soon
                # as fewer than half a batch are held: not a second's idle wait between batches.
                if self._scan_asked or (self._backlog and len(self._held) < self.BATCH // 2):
                    self._scan_asked = False
                    claimed = await self._claim(self.BATCH)
                    self._backlog = len(claimed) >= self.BATCH
                    self.accept(claimed)
                self._pump()
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                log.exception("outbox pass failed")
            try:
                await asyncio.wait_for(self._wake.wait(), idle_seconds)
            except TimeoutError:
                self._scan_asked = True  # the slow safety net, and rows whose back-off has passed
        if self._sending:
            await asyncio.gather(*self._sending.values(), return_exceptions=True)
        await self._flush()
        if self.leases:
            await self._release_own()

    def _own_pending(self):
        """The rows this replica has claimed and not yet delivered or given up."""
        return update(OutboxMessage).where(OutboxMessage.claimed_by == self.owner, OutboxMessage.delivered_at.is_(None),
                                           OutboxMessage.failed_at.is_(None))

    async def _renew(self) -> None:
        """One statement: every row this replica holds keeps its claim for another lease."""
        self._renewed = time.monotonic()
        async with self._own_rows, self.sessions() as session, session.begin():
            await session.execute(self._own_pending().values(
                claimed_until=self.clock.now() + timedelta(seconds=LEASE_SECONDS)))

    async def _release_own(self) -> None:
        """At a clean stop: what this replica held and did not send is free for the others at once."""
        try:
            async with self._own_rows, self.sessions() as session, session.begin():
                await session.execute(self._own_pending().values(claimed_until=None, claimed_by=None))
        except Exception:  # noqa: BLE001 - the leases lapse on their own
            log.exception("releasing the outbox claims at stop failed")

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _pump(self, limit: int | None = None) -> int:
        """Start the due head of every idle chat: urgent ones first and always, the rest while
        fewer than MAX_IN_FLIGHT are on their way."""
        now = self.clock.now()
        heads = [q[0] for chat, q in self._queues.items() if q and chat not in self._sending and q[0].due_at <= now]
        heads.sort(key=lambda r: (r.kind not in URGENT_KINDS, r.id))
        started = 0
        for row in heads:
            urgent = row.kind in URGENT_KINDS
            if not urgent and (len(self._sending) >= self.MAX_IN_FLIGHT or (limit is not None and started >= limit)):
                break
            chat = (row.channel, row.chat_id)
            self._sending[chat] = asyncio.create_task(self._send_one(chat, row))
            started += 1
        return started

    async def _send_one(self, chat, row: OutboxMessage) -> None:
        URGENT_SEND.set(row.kind in URGENT_KINDS)  # this task's: ahead of the others in the channel's pacing
        try:
            result = await self._deliver(row)
            row.attempts += 1
            if result.platform_ids:
                row.platform_ids = (row.platform_ids or []) + result.platform_ids
            queue = self._queues.get(chat, [])
            final = result.ok or _given_up(row, result)
            self.metrics.delivery(row.channel, "delivered" if result.ok else "failed" if final else "retry")
            if final:
                if queue and queue[0] is row:
                    queue.pop(0)
                if not queue:
                    self._queues.pop(chat, None)
                # still held until its result is recorded (_flush): a scan meanwhile must not take it again
                if result.ok and row.kind not in ("edit", "delete") and result.platform_ids:
                    self._last_sent[(row.channel, row.chat_id, row.tag)] = result.platform_ids[-1]
            else:  # the chat waits for this one's next attempt, here, in order
                delay = result.retry_after if result.retry_after is not None else min(2 ** row.attempts, 300)
                row.due_at = self.clock.now() + timedelta(seconds=delay)
            self._results.append((row, result))
            self._ensure_recorder()
        finally:
            self._sending.pop(chat, None)
            self._wake.set()

    def _ensure_recorder(self) -> None:
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_soon())

    async def _record_soon(self) -> None:
        """Results wait RECORD_WINDOW for others to join them, and a little longer while sends
        are on their way (a step's second message), never more than RECORD_LIMIT."""
        began = time.monotonic()
        await asyncio.sleep(self.RECORD_WINDOW)
        while self._sending and time.monotonic() - began < self.RECORD_LIMIT:
            await asyncio.sleep(0.005)
        await self._flush()

    async def _flush(self) -> None:
        """Record every result that came in, in one transaction."""
        while self._results:
            batch, self._results = self._results, []
            try:
                await self._record_all(batch)
            except Exception:  # noqa: BLE001 - kept, and tried again with the next results
                log.exception("recording %d deliveries failed", len(batch))
                self._results = batch + self._results
                return
            for row, result in batch:
                if result.ok or _given_up(row, result):  # ended, and now recorded
                    self._held.discard(row.id)
            if self._backlog:
                self._wake.set()  # fewer held: the next batch of a broadcast may be claimed

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        """The database's due rows that nobody holds, a chat's in order: claimed for this process."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            pending = (OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))
            # The urgent lane first: an alert never waits behind a broadcast (3,000 digests queued
            # before it), then everything else, oldest first.
            urgent = (await session.scalars(
                select(OutboxMessage).where(*pending, OutboxMessage.kind.in_(URGENT_KINDS))
                .order_by(OutboxMessage.id).limit(limit)
            )).all()
            rest = (await session.scalars(
                select(OutboxMessage).where(*pending, OutboxMessage.kind.not_in(URGENT_KINDS))
                .order_by(OutboxMessage.id).limit(limit * 4)
            )).all()
            rows = [*urgent, *rest]
            claimed: list[OutboxMessage] = []
            blocked: set[tuple[str, str]] = set()
            for row in sorted(rows, key=lambda r: r.id):
                chat = (row.channel, row.chat_id)
                if chat in blocked or row.id in self._held:
                    continue
                # A row not due yet or held elsewhere (another replica's live lease) keeps the chat's
                # later ones behind it; the rest of a chat are all taken, to be sent in order from here.
                # This replica's own claims (left by its previous run) are taken back at once.
                held_elsewhere = row.claimed_until and row.claimed_until > now and row.claimed_by != self.owner
                if row.due_at > now or held_elsewhere:
                    blocked.add(chat)
                    continue
                if self._sender(row.channel, row.account) is None:
                    blocked.add(chat)
                    continue
                claimed.append(row)
            claimed.sort(key=lambda r: (r.kind not in URGENT_KINDS, r.id))
            claimed = claimed[:limit]
            if claimed:
                ids = [r.id for r in claimed]
                result = await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(ids),
                        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now,
                            OutboxMessage.claimed_by == self.owner),
                    )
                    .values(claimed_until=now + timedelta(seconds=LEASE_SECONDS), claimed_by=self.owner)
                    .returning(OutboxMessage.id)
                )
                won = set(result.scalars().all())
                claimed = [r for r in claimed if r.id in won]
        return claimed

    async def deliver_due(self, limit: int = 30) -> int:
        """One pass: claim from the database, send the next due message of each chat, record the
        results. Returns how many were attempted."""
        self.accept(await self._claim(limit))
        started = self._pump(limit)
        if self._sending:
            await asyncio.gather(*self._sending.values(), return_exceptions=True)
        await self._flush()
        return started

    async def drain(self, max_passes: int = 50) -> None:
        """Deliver until nothing due is left (tests and the CLI)."""
        for _ in range(max_passes):
            if not await self.deliver_due():
                return

    async def _register_list(self, session, identity, row: OutboxMessage, now) -> None:
        """A push re-sent on a channel without buttons is numbered there: its register is written in
        the same transaction as the new row, so a typed number reads against that list."""
        sender = self._sender(identity.channel, identity.account) if identity is not None else None
        if sender is None or sender.capabilities.buttons:
            return
        reply, _ = decode_payload(self.keyring, row.payload)
        items = chatlists.numbered(reply)
        if items is not None:
            await chatlists.register(session, chatlists.chat_key(identity.channel, identity.account,
                                                                 identity.external_id), items, now)

    async def _previous_platform_id(self, row: OutboxMessage) -> str | None:
        known = self._last_sent.get((row.channel, row.chat_id, row.tag))
        if known is not None:
            return known  # what this process sent last there (after a restart: read below)
        async with reading(self.sessions)() as session:  # a read: no write lock on SQLite
            ids = await session.scalar(
                select(OutboxMessage.platform_ids)
                .where(
                    OutboxMessage.channel == row.channel, OutboxMessage.chat_id == row.chat_id,
                    OutboxMessage.tag == row.tag, OutboxMessage.kind != "edit",
                    OutboxMessage.delivered_at.is_not(None),
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
        return ids[-1] if ids else None

    async def _delete(self, row: OutboxMessage, sender, reply: Reply) -> Delivery:
        """Chat hygiene: the bot's messages in this chat since a time, and the person's listed ones."""
        if not sender.capabilities.delete:
            return Delivery(ok=True)
        since = datetime.fromisoformat(reply.delete["since"])
        async with reading(self.sessions)() as session:  # a read: no write lock on SQLite
            rows = (await session.scalars(
                select(OutboxMessage.platform_ids).where(
                    OutboxMessage.channel == row.channel, OutboxMessage.chat_id == row.chat_id,
                    OutboxMessage.id < row.id, OutboxMessage.created_at >= since,
                    OutboxMessage.delivered_at.is_not(None), OutboxMessage.kind.not_in(("edit", "delete")),
                )
            )).all()
        ids = [pid for ids in rows if ids for pid in ids] + list(reply.delete.get("ids", []))
        return await sender.delete(row.chat_id, sorted(set(ids), key=lambda v: int(v) if v.isdigit() else 0))

    async def _with_blobs(self, stored: Stored) -> Reply | None:
        """The reply with the photo and file its blobs hold (a digest's, read once for all its rows);
        None if a blob is gone."""
        reply = stored.reply
        wanted = [k for k in (stored.photo_blob, stored.file_blob[1] if stored.file_blob else None) if k]
        for key in wanted:
            if key not in self._blobs:
                async with reading(self.sessions)() as session:  # a read: no write lock on SQLite
                    content = await read_blob(session, self.keyring, key)
                if content is None:
                    return None
                self._blobs[key] = content
                while len(self._blobs) > self.BLOB_CACHE:
                    self._blobs.pop(next(iter(self._blobs)))  # the oldest read first
        if stored.photo_blob:
            reply = replace(reply, photo=self._blobs[stored.photo_blob])
        if stored.file_blob:
            reply = replace(reply, file=(stored.file_blob[0], self._blobs[stored.file_blob[1]]))
        return reply

    async def _deliver(self, row: OutboxMessage) -> Delivery:
        sender = self._sender(row.channel, row.account)
        stored = stored_of(self.keyring, row)
        reply, fields = stored.reply, stored.fields
        if stored.photo_blob or stored.file_blob:
            reply = await self._with_blobs(stored)
            if reply is None:
                return Delivery(ok=False, permanent=True, error="its file is no longer stored")
        try:
            if fields is not None and hasattr(sender, "send_fields"):
                result = await sender.send_fields(row.chat_id, fields)  # a template message: its fields, only
            elif row.kind == "delete":
                result = await self._delete(row, sender, reply)
            elif row.kind == "edit":
                target = await self._previous_platform_id(row) if sender.capabilities.edit else None
                # Where a message cannot be edited the change is dropped: the next question follows anyway.
                result = await sender.edit(row.chat_id, target, reply) if target else Delivery(ok=True)
            else:
                done = len(row.platform_ids or [])  # parts an earlier attempt already delivered
                result = await sender.send(row.chat_id, reply, done)
        except Exception as exc:  # noqa: BLE001 - a channel bug must not stop the queue
            log.exception("delivery raised on %s", row.channel)
            result = Delivery(ok=False, error=type(exc).__name__)
        return result

    async def _template_beside(self, session, row: OutboxMessage, now) -> None:
        """An urgent alert the official account held (its window closed): the template message the
        domain decides on goes out beside it, at once (handlers/reachability.py)."""
        if self.services is None or f"{TEMPLATE_CHANNEL}:{row.account}" not in self.channels:
            return
        if not await held_for(session, row.channel, row.account, row.chat_id):
            return  # failed for another reason (blocked, unfollowed): the other channels carry it
        plan = await template_for_held(session, self.services, row)
        if plan is None:
            return
        queue_template(session, self.keyring, channel=TEMPLATE_CHANNEL, account=plan.account, chat_id=plan.chat_id,
                       person_id=plan.person_id, fields=plan.fields, tag=plan.tag, now=now)
        log.info("outbox message %s: held by the official account; a template message goes beside it", row.id)
        self.wake()

    async def _record_all(self, batch: list[tuple[OutboxMessage, Delivery]]) -> None:
        now = self.clock.now()
        delivered = sorted(((row, result) for row, result in batch if result.ok), key=lambda d: d[0].id)
        values = [{"row_id": row.id, "delivered_at": now, "claimed_until": None, "claimed_by": None, "payload": None,
                   "attempts": row.attempts, "platform_ids": row.platform_ids} for row, _ in delivered]
        if len(delivered) == len(batch):  # the usual case: one statement, nothing read first, no ORM
            # On PostgreSQL in autocommit: one UPDATE (the batch's rows pipelined, atomic by
            # themselves), without the BEGIN and COMMIT round trips.
            async with self._own_rows, autocommit_if(engine_of(self.sessions), True) as conn:
                raw = direct.connection_of(conn.sync_connection)
                if raw is not None:  # SQLite's writer: one UPDATE for the batch, straight to sqlite3
                    direct.record_delivered(raw, OutboxMessage.__table__, now,
                                            [(row.id, row.attempts, row.platform_ids) for row, _ in delivered])
                else:
                    await conn.execute(_RECORD_DELIVERED, values)
            return
        async with self._own_rows, self.sessions() as session, session.begin():
            if delivered:
                await session.execute(_RECORD_DELIVERED, values)
            for row, result in batch:
                if not result.ok:
                    await self._record(session, row, result, now)
        self.wake()  # a fallback or a template message may have been queued

    async def _record(self, session, held: OutboxMessage, result: Delivery, now) -> None:
        """A failed attempt: tried again later (the row stays claimed by this process, which holds
        it in its chat's queue), or failed for good and handed on."""
        row = await session.get(OutboxMessage, held.id)
        row.attempts = held.attempts
        row.platform_ids = held.platform_ids  # some parts went out: a retry sends only the rest
        row.last_error = result.error[:300]
        if _given_up(held, result):
            row.failed_at = now
            row.claimed_until = row.claimed_by = None
            log.warning("outbox message %s to %s failed for good: %s", row.id, row.channel, result.error)
            if row.kind in URGENT_KINDS and row.channel == OA_CHANNEL:
                await self._template_beside(session, row, now)
            if row.kind in FALLBACK_KINDS and row.person_id is not None:
                went = await fall_back(session, self.keyring, row, now)
                if went is None and self.services is not None:
                    said = Outgoing(services=self.services, session=session, at=now)
                    await undeliverable(said, row)
                    await said.send_queued()
                await self._register_list(session, went, row, now)
            return
        row.due_at = held.due_at
        row.claimed_until = now + timedelta(seconds=LEASE_SECONDS)  # renewed while this replica lives


_RECORD_DELIVERED = update(OutboxMessage.__table__).where(OutboxMessage.__table__.c.id == bindparam("row_id"))


def _given_up(row: OutboxMessage, result: Delivery) -> bool:
    """A failed attempt that ends the row: the platform refused it for good, or it was the last."""
    return result.permanent or row.attempts >= MAX_ATTEMPTS
