"""Queueing what the bot sends: a row per message in the outbox table, written in the transaction
that decided it, its content encrypted. Delivering the rows is the runtime's (bot/outbox.py)."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Reply
from storage import direct
from storage.crypto import Keyring
from storage.db import NOTIFY_OTHERS, BotSession
from storage.models import Identity, OutboxBlob, OutboxMessage
from storage.people import delivery_order

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


def take_queued(session: AsyncSession) -> list[Queued]:
    return session.info.pop(QUEUED, [])


COLUMNS = ("person_id", "channel", "account", "chat_id", "kind", "tag", "payload", "created_at", "due_at",
            "attempts", "claimed_until", "claimed_by")
# Built once: all of a step's rows in one INSERT, their ids returned in the order they were queued.
_INSERT = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id, sort_by_parameter_order=True)


class Queued:
    """A row a step queued, as plain data. It is written with the step's other rows in one Core
    INSERT at the commit and then handed to this process's outbox, which reads and updates these
    attributes as it does those of an OutboxMessage it claimed. (Building an ORM object per row cost
    more than the INSERT.)"""

    __slots__ = (*COLUMNS, "id", "plain", "delivered_at", "failed_at", "platform_ids", "last_error")

    def __init__(self, **values) -> None:
        self.id = self.claimed_until = self.claimed_by = self.plain = None
        self.delivered_at = self.failed_at = self.platform_ids = self.last_error = None
        for name, value in values.items():
            setattr(self, name, value)


def _add(session: AsyncSession, now: datetime, **values) -> Queued | OutboxMessage:
    """The row of `values`: in a step's session a Queued, claimed by this process if it can send it;
    elsewhere (a job, the outbox's own fallbacks) an OutboxMessage the session flushes."""
    claim = session.info.get(CLAIM_ON_QUEUE)
    if claim is None:  # a job's rows: any replica's outbox may take them, and is told at the commit
        row = OutboxMessage(**values)
        session.add(row)
        session.info[NOTIFY_OTHERS] = True
        return row
    row = Queued(**values)
    owner, can_send = claim
    if can_send is None or can_send(row.channel, row.account):
        row.claimed_until = now + timedelta(seconds=LEASE_SECONDS)
        row.claimed_by = owner or None
    else:  # a chat another replica serves
        session.info[NOTIFY_OTHERS] = True
    session.info.setdefault(QUEUED, []).append(row)
    return row


def unwritten(session) -> list[Queued]:
    """The rows this step queued and has not written yet (storage/step_commit.py writes them with
    its other rows; otherwise write() at the commit)."""
    return [row for row in session.info.get(QUEUED, ()) if row.id is None]


def write(session, rows: list[Queued]) -> None:
    values = [{c: getattr(row, c) for c in COLUMNS} for row in rows]
    raw = direct.connection_of(session.connection())
    if raw is not None:  # SQLite's writer: straight to sqlite3 (storage/direct.py)
        ids = direct.insert_returning_ids(raw, OutboxMessage.__table__, COLUMNS, values)
    else:
        ids = session.execute(_INSERT, values).scalars().all()
    for row, row_id in zip(rows, ids, strict=True):
        row.id = row_id


@event.listens_for(BotSession, "before_commit")
def _write_queued(session) -> None:
    rows = unwritten(session)
    if rows:
        write(session, rows)


@event.listens_for(BotSession, "after_rollback")
def _forget_queued(session) -> None:
    """Rolled back: none of the rows queued exists, and none is handed to the outbox."""
    session.info.pop(QUEUED, None)


PAYLOADS = "outbox_payloads"  # session.info: id(reply) -> (reply, payload): one reply to many, encrypted once
BLOBS = "outbox_blobs"  # session.info: id(content) -> (content, key): a file to many, stored once
PHOTO_BLOB, FILE_BLOB = "photo_blob", "file_blob"  # in a payload: the blob that holds the photo / the file


def _blob(session: AsyncSession, keyring: Keyring, content: bytes, now: datetime) -> str:
    cache = session.info.setdefault(BLOBS, {})
    hit = cache.get(id(content))
    if hit is not None and hit[0] is content:
        return hit[1]
    key = uuid.uuid4().hex
    session.add(OutboxBlob(key=key, data=keyring.encrypt(content), created_at=now))
    cache[id(content)] = (content, key)
    return key


def encrypted(session: AsyncSession, keyring: Keyring, reply: Reply, now: datetime) -> bytes:
    """The row's encrypted payload. Its photo and file go into blobs, stored once in the
    transaction however many rows carry them; the same reply to many is encrypted once."""
    cache = session.info.setdefault(PAYLOADS, {})
    hit = cache.get(id(reply))
    if hit is not None and hit[0] is reply:
        return hit[1]
    data = replace(reply, photo=None, file=None).to_dict()
    if reply.photo:
        data[PHOTO_BLOB] = _blob(session, keyring, reply.photo, now)
    if reply.file:
        data[FILE_BLOB] = [reply.file[0], _blob(session, keyring, reply.file[1], now)]
    payload = keyring.encrypt(json.dumps(data, ensure_ascii=False).encode())
    cache[id(reply)] = (reply, payload)
    return payload


def queue_to_chat(
    session: AsyncSession, keyring: Keyring, *, channel: str, account: str, chat_id: str,
    person_id: int | None, reply: Reply, now: datetime, kind: str = "reply",
) -> None:
    payload = encrypted(session, keyring, reply, now)
    row = _add(session, now, person_id=person_id, channel=channel, account=account, chat_id=chat_id,
               kind="edit" if reply.edit else "delete" if reply.delete else kind, tag=reply.tag, payload=payload,
               created_at=now, due_at=now, attempts=0)
    if not reply.photo and not reply.file:  # what decode_stored would give back (a blob is read apart)
        row.plain = Stored(reply)


@dataclass(frozen=True)
class Stored:
    """A row's payload read: the reply (without the photo and file its blobs hold), the fields of a
    template message if it is one, and the blobs to read (with_blobs)."""

    reply: Reply
    fields: dict | None = None
    photo_blob: str | None = None
    file_blob: tuple[str, str] | None = None  # (filename, blob key)


def stored_of(keyring: Keyring, row: OutboxMessage) -> Stored:
    """The row's payload read: kept from when this process queued it, else decrypted."""
    return row.plain if row.plain is not None else decode_stored(keyring, row.payload)


def decode_stored(keyring: Keyring, payload: bytes) -> Stored:
    """Rows written before template messages or blobs existed hold the reply alone, files inline,
    and read as before."""
    data = json.loads(keyring.decrypt(payload))
    fields = data.pop(TEMPLATE_KEY, None)
    photo, file = data.pop(PHOTO_BLOB, None), data.pop(FILE_BLOB, None)
    return Stored(Reply.from_dict(data), fields if isinstance(fields, dict) else None, photo,
                  (file[0], file[1]) if file else None)


BULK_MIN = 50  # a job queueing this many rows at once writes them in one statement


async def queue_to_people(session: AsyncSession, keyring: Keyring, pushes, *, now: datetime) -> None:
    """Many pushes at once (a job's broadcast: a digest to 3,000 people): [(identity, person_id,
    reply, kind)], written in order with one INSERT through Core, where the ORM wrote a row at a
    time. A step's session, whose rows its outbox claims and takes as they are written, and a few
    rows, go row by row as before."""
    if session.info.get(CLAIM_ON_QUEUE) is not None or len(pushes) < BULK_MIN:
        for identity, person_id, reply, kind in pushes:
            queue_to_chat(session, keyring, channel=identity.channel, account=identity.account,
                          chat_id=identity.chat_id, person_id=person_id, reply=reply, now=now, kind=kind)
        return
    values = [{"person_id": person_id, "channel": identity.channel, "account": identity.account,
               "chat_id": identity.chat_id, "kind": "edit" if reply.edit else "delete" if reply.delete else kind,
               "tag": reply.tag, "payload": encrypted(session, keyring, reply, now), "created_at": now, "due_at": now,
               "attempts": 0}
              for identity, person_id, reply, kind in pushes]
    await session.flush()  # what the session queued before (and the blobs) keeps its place ahead
    await session.execute(insert(OutboxMessage.__table__), values)
    session.info[NOTIFY_OTHERS] = True  # a job's rows: any replica's outbox may take them


def decode_payload(keyring: Keyring, payload: bytes) -> tuple[Reply, dict | None]:
    """A row's reply (its blobs not read) and template fields."""
    stored = decode_stored(keyring, payload)
    return stored.reply, stored.fields


async def read_blob(session: AsyncSession, keyring: Keyring, key: str) -> bytes | None:
    data = await session.scalar(select(OutboxBlob.data).where(OutboxBlob.key == key))
    return keyring.decrypt(data) if data is not None else None



def queue_template(
    session: AsyncSession, keyring: Keyring, *, channel: str, account: str, chat_id: str, person_id: int | None,
    fields: dict[str, str], tag: str, now: datetime, kind: str = "alert",
) -> None:
    """A template message: only `fields` go out (the channel maps them onto the template's
    parameters); the reply beside them is a one-line summary for logs and demo printers."""
    summary = Reply(text=f"[{channel}] " + " · ".join(str(v) for v in fields.values()), tag=tag)
    data = {**summary.to_dict(), TEMPLATE_KEY: dict(fields)}
    _add(session, now, person_id=person_id, channel=channel, account=account, chat_id=chat_id, kind=kind, tag=tag,
         payload=keyring.encrypt(json.dumps(data, ensure_ascii=False).encode()), created_at=now, due_at=now,
         attempts=0)


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
    _add(session, now, person_id=row.person_id, channel=nxt.channel, account=nxt.account, chat_id=nxt.chat_id,
         kind=row.kind, tag=row.tag, payload=row.payload, created_at=now, due_at=now, attempts=0)
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
