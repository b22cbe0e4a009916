"""The outbox: everything the bot sends is queued in the database in the transaction that decided
it, then delivered in order per chat, with retries, back-off and the platform's retry_after.

Only a message in flight when the process dies may be sent twice; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics import NO_METRICS
from core.events import Delivery, Reply
from handlers.admin_notices import undeliverable
from handlers.context import Outgoing
from handlers.reachability import TEMPLATE_CHANNEL, template_for_held
from storage import chatlists
from storage.crypto import Keyring
from storage.models import OutboxMessage
from storage.outbox import decode_payload, fall_back, queue_template
from storage.people import OA_CHANNEL, held_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FALLBACK_KINDS = ("push", "digest")  # alerts already go to every channel; replies belong to their chat
CLAIM_SECONDS = 120
URGENT_KINDS = ("alert",)  # urgent alerts and escalations: their own lane, ahead of every other kind


class Outbox:
    """Delivers queued messages through the channels registered with it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: Keyring, clock, *, fallback=None,
                 metrics=None, services=None) -> None:
        self.sessions = sessions
        self.services = services  # to tell the admins of a push nobody could take
        self.metrics = metrics or NO_METRICS  # bot/metrics.py
        self.keyring = keyring
        self.clock = clock
        self.channels: dict[str, object] = {}
        self.fallback = fallback  # demo: a printer for messages to channels not running here
        self._wake = asyncio.Event()
        self._stopping = False

    async def release_claims(self) -> None:
        """At the start of the only process (SQLite): claims left by a killed process are void."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.claimed_until.is_not(None)).values(claimed_until=None)
            )

    def register(self, channel) -> None:
        self.channels[channel.name] = channel
        if channel.per_account:  # Zalo: one bot or official account per commune
            self.channels[f"{channel.name}:{channel.account}"] = channel

    def wake(self) -> None:
        self._wake.set()

    def _sender(self, name: str, account: str | None = None):
        exact = self.channels.get(f"{name}:{account}")
        if exact is not None:
            return exact
        channel = self.channels.get(name)
        if channel is not None and channel.per_account:
            channel = None  # a chat of another bot account: not this one's to send
        return channel or self.fallback

    async def run(self, idle_seconds: float = 1.0) -> None:
        while not self._stopping:
            self._wake.clear()  # before the pass: a wake-up during it is not lost
            try:
                sent = await self.deliver_due()
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                log.exception("outbox pass failed")
                sent = 0
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), idle_seconds)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _claim(self, limit: int) -> list[OutboxMessage]:
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
            for row in rows:
                chat = (row.channel, row.chat_id)
                if chat in blocked:
                    continue
                blocked.add(chat)  # one message per chat per pass keeps them in order
                if row.due_at > now or (row.claimed_until and row.claimed_until > now):
                    continue
                if self._sender(row.channel, row.account) is None:
                    continue
                claimed.append(row)
                if len(claimed) >= limit:
                    break
            if claimed:
                ids = [r.id for r in claimed]
                result = await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(ids),
                        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
                    )
                    .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
                    .returning(OutboxMessage.id)
                )
                won = set(result.scalars().all())
                claimed = [r for r in claimed if r.id in won]
        return claimed

    async def deliver_due(self, limit: int = 30) -> int:
        """One pass: the next message of each chat that is due. Returns how many were attempted."""
        claimed = await self._claim(limit)
        if claimed:
            await asyncio.gather(*(self._deliver(row) for row in claimed))
        return len(claimed)

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
        async with self.sessions() as session:
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
        async with self.sessions() as session:
            rows = (await session.scalars(
                select(OutboxMessage.platform_ids).where(
                    OutboxMessage.channel == row.channel, OutboxMessage.chat_id == row.chat_id,
                    OutboxMessage.id < row.id, OutboxMessage.created_at >= since,
                    OutboxMessage.delivered_at.is_not(None), OutboxMessage.kind.not_in(("edit", "delete")),
                )
            )).all()
        ids = [pid for ids in rows if ids for pid in ids] + list(reply.delete.get("ids", []))
        return await sender.delete(row.chat_id, sorted(set(ids), key=lambda v: int(v) if v.isdigit() else 0))

    async def _deliver(self, row: OutboxMessage) -> None:
        sender = self._sender(row.channel, row.account)
        reply, fields = decode_payload(self.keyring, row.payload)
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
        await self._record(row.id, result)

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

    async def _record(self, row_id: int, result: Delivery) -> None:
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            row = await session.get(OutboxMessage, row_id)
            row.claimed_until = None
            row.attempts += 1
            if result.ok:
                row.delivered_at = now
                row.platform_ids = (row.platform_ids or []) + result.platform_ids
                row.payload = None  # delivered: what was said is not kept
                self.metrics.delivery(row.channel, "delivered")
                return
            row.last_error = result.error[:300]
            if result.platform_ids:  # some parts went out: a retry sends only the rest
                row.platform_ids = (row.platform_ids or []) + result.platform_ids
            if result.permanent or row.attempts >= MAX_ATTEMPTS:
                row.failed_at = now
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
                self.metrics.delivery(row.channel, "failed")
                return
            self.metrics.delivery(row.channel, "retry")
            delay = result.retry_after if result.retry_after is not None else min(2 ** row.attempts, 300)
            row.due_at = now + timedelta(seconds=delay)
