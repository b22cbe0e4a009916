"""Queueing what the bot sends: a row per message in the outbox table, written in the transaction
that decided it, its content encrypted. Delivering the rows is the runtime's (bot/outbox.py)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Reply
from storage.crypto import Keyring
from storage.db import NOTIFY_OTHERS
from storage.models import Identity, OutboxMessage
from storage.people import delivery_order, delivery_orders  # noqa: F401 - delivery_orders: for handlers/context.py

log = logging.getLogger(__name__)

TEMPLATE_KEY = "template"  # beside the reply in a row's payload: the fields of a template message
QUEUED = "outbox_queued"  # session.info: the rows this session queued, for the hand-off
CLAIM_ON_QUEUE = "outbox_claim"  # session.info: queue them claimed (the runtime sends them itself)
LEASE_SECONDS = 15  # a claim's lease: renewed by its live replica, void this long after it died


def claim_on_queue(session: AsyncSession, owner: str = "", can_send=None) -> None:
    """Rows this session queues are claimed by the process as they are written (those it can send:
    can_send(channel, account)), and handed to its outbox after the commit (take_queued): no second
    transaction to claim them."""
    session.info[CLAIM_ON_QUEUE] = (owner, can_send)


def take_queued(session: AsyncSession) -> list[OutboxMessage]:
    return session.info.pop(QUEUED, [])


def _add(session: AsyncSession, row: OutboxMessage, now: datetime) -> None:
    claim = session.info.get(CLAIM_ON_QUEUE)
    mine = False
    if claim is not None:
        owner, can_send = claim
        if can_send is None or can_send(row.channel, row.account):
            row.claimed_until = now + timedelta(seconds=LEASE_SECONDS)
            row.claimed_by = owner or None
            mine = True
        session.info.setdefault(QUEUED, []).append(row)
    if not mine:  # a job's rows, or a chat another replica serves: the others are told at the commit
        session.info[NOTIFY_OTHERS] = True
    session.add(row)


def queue_to_chat(
    session: AsyncSession, keyring: Keyring, *, channel: str, account: str, chat_id: str,
    person_id: int | None, reply: Reply, now: datetime, kind: str = "reply",
) -> None:
    payload = keyring.encrypt(json.dumps(reply.to_dict(), ensure_ascii=False).encode())
    _add(session, OutboxMessage(
        person_id=person_id, channel=channel, account=account, chat_id=chat_id,
        kind="edit" if reply.edit else "delete" if reply.delete else kind, tag=reply.tag, payload=payload,
        created_at=now, due_at=now, attempts=0,
    ), now)


def decode_payload(keyring: Keyring, payload: bytes) -> tuple[Reply, dict | None]:
    """A row's reply, and the fields of a template message if it is one. Rows written before
    template messages existed hold the reply alone, and read as before."""
    data = json.loads(keyring.decrypt(payload))
    fields = data.pop(TEMPLATE_KEY, None)
    return Reply.from_dict(data), fields if isinstance(fields, dict) else None


def queue_template(
    session: AsyncSession, keyring: Keyring, *, channel: str, account: str, chat_id: str, person_id: int | None,
    fields: dict[str, str], tag: str, now: datetime, kind: str = "alert",
) -> None:
    """A template message: only `fields` go out (the channel maps them onto the template's
    parameters); the reply beside them is a one-line summary for logs and demo printers."""
    summary = Reply(text=f"[{channel}] " + " · ".join(str(v) for v in fields.values()), tag=tag)
    data = {**summary.to_dict(), TEMPLATE_KEY: dict(fields)}
    _add(session, OutboxMessage(
        person_id=person_id, channel=channel, account=account, chat_id=chat_id, kind=kind, tag=tag,
        payload=keyring.encrypt(json.dumps(data, ensure_ascii=False).encode()), created_at=now, due_at=now,
        attempts=0,
    ), now)


async def fall_back(session: AsyncSession, keyring: Keyring, row: OutboxMessage, now: datetime) -> Identity | None:
    """A push that failed for good goes to the person's next identity, still encrypted as it was.
    None when there is no other: the runtime then has the commune's admins told
    (handlers/admin_notices.py undeliverable), so nothing fails unnoticed."""
    order = await delivery_order(session, row.person_id)
    at = next((n for n, i in enumerate(order) if (i.channel, i.account, i.chat_id) == (row.channel, row.account,
                                                                                       row.chat_id)), None)
    if at is None or at + 1 >= len(order):
        log.warning("outbox message %s: no other channel to try for its person", row.id)
        return None
    nxt = order[at + 1]
    _add(session, OutboxMessage(
        person_id=row.person_id, channel=nxt.channel, account=nxt.account, chat_id=nxt.chat_id, kind=row.kind,
        tag=row.tag, payload=row.payload, created_at=now, due_at=now, attempts=0,
    ), now)
    log.info("outbox message %s: trying the person's %s channel instead of %s", row.id, nxt.channel, row.channel)
    return nxt


async def queue_to_person(
    session: AsyncSession, keyring: Keyring, person_id: int, reply: Reply, *, now: datetime, kind: str = "push",
    order: list[Identity] | None = None,
) -> Identity | None:
    """To the person's preferred channel (the one they last wrote from); if delivery there fails
    for good, the outbox tries their other channels in turn. The identity it went to; None if the
    person has none. `order`: their delivery_order, when the caller read it for many at once."""
    identities = await delivery_order(session, person_id) if order is None else order
    if not identities:
        return None
    preferred = identities[0]
    queue_to_chat(
        session, keyring, channel=preferred.channel, account=preferred.account, chat_id=preferred.chat_id,
        person_id=person_id, reply=reply, now=now, kind=kind,
    )
    return preferred


async def queue_to_every_channel(
    session: AsyncSession, keyring: Keyring, person_id: int, reply: Reply, *, now: datetime, kind: str = "alert"
) -> list[Identity]:
    """Alerts go out on every channel the person has, so one blocked messenger never hides one;
    the identities they went to."""
    identities = (await session.scalars(select(Identity).where(Identity.person_id == person_id,
                                                               Identity.unreachable_at.is_(None)))).all()
    for identity in identities:
        queue_to_chat(
            session, keyring, channel=identity.channel, account=identity.account, chat_id=identity.chat_id,
            person_id=person_id, reply=reply, now=now, kind=kind,
        )
    return list(identities)
