"""A weekly digest's run in the database: the claim that makes it go out once, its messages stored
once per kind of reader, and its recipients queued batch by batch, resumably.

The claim (commune, week) is inserted with the messages (digest_parts) in one transaction. Then
each batch of recipients, in person order, is one short transaction: it moves the run's
`queued_through` from the last person of the previous batch to its own last (a conditional
update, so two processes never queue the same batch), and copies the parts into the outbox with
one INSERT … SELECT per recipient, executed as one batch. A crash between batches leaves the run
with `queued_through` set: the next run of the job finishes the rest and repeats nobody.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, bindparam, delete, insert, literal, null, select, update

from storage.db import NOTIFY_OTHERS, upsert_insert
from storage.models import DigestPart, DigestRun, OutboxMessage, UtcDateTime
from storage.outbox import encrypted

_PARTS = DigestPart.__table__
_COPY = insert(OutboxMessage.__table__).from_select(
    ["person_id", "channel", "account", "chat_id", "kind", "tag", "payload", "created_at", "due_at", "attempts"],
    select(bindparam("person_id", type_=Integer), bindparam("channel", type_=String),
           bindparam("account", type_=String), bindparam("chat_id", type_=String), literal("digest", String),
           null(), _PARTS.c.payload, bindparam("now", type_=UtcDateTime), bindparam("now", type_=UtcDateTime),
           literal(0, Integer))
    .where(_PARTS.c.run_id == bindparam("run_id", type_=Integer), _PARTS.c.shape == bindparam("shape", type_=String))
    .order_by(_PARTS.c.seq),
)


def shape_of(lang: str, small: bool, channel: str) -> str:
    """The kind of reader a part is for: their language, outside the commune or not, the channel."""
    return f"{lang}|{'outside' if small else 'inside'}|{channel}"


async def claim(session, commune_id: str, week: str, now: datetime, missed: list[str]) -> DigestRun | None:
    """The run's row, inserted unless some process claimed the week first (None then); its
    recipients are still to be queued."""
    result = await session.execute(
        upsert_insert(session)(DigestRun).values(commune_id=commune_id, week=week, claimed_at=now, missed=missed,
                                                 recipients=0, queued_through=0)
        .on_conflict_do_nothing(index_elements=["commune_id", "week"])
    )
    if not result.rowcount:
        return None
    return await session.scalar(select(DigestRun).where(DigestRun.commune_id == commune_id, DigestRun.week == week))


def add_parts(session, keyring, run_id: int, shape: str, replies, now: datetime) -> None:
    """The messages one kind of reader gets, in order, each encrypted as an outbox row's payload
    (its files stored once as blobs)."""
    for seq, reply in enumerate(replies):
        session.add(DigestPart(run_id=run_id, shape=shape, seq=seq, payload=encrypted(session, keyring, reply, now)))


async def shapes(session, run_id: int) -> set[str]:
    return set((await session.scalars(select(DigestPart.shape).where(DigestPart.run_id == run_id).distinct())).all())


async def unfinished(session, commune_id: str, claimed_before: datetime) -> DigestRun | None:
    """A run of the commune whose recipients were not all queued, claimed before the given moment
    (a live process finishes its own well within it)."""
    return await session.scalar(
        select(DigestRun).where(DigestRun.commune_id == commune_id, DigestRun.queued_through.is_not(None),
                                DigestRun.claimed_at < claimed_before).order_by(DigestRun.id).limit(1))


async def queue_batch(session, run_id: int, after: int, readers, *, now: datetime, last: bool) -> bool:
    """Queue one batch: readers [(person_id, shape, identity)] in person order, all after person
    `after`. False when another process has moved the run on (nothing is queued then)."""
    through = None if last else readers[-1][0]
    moved = await session.execute(
        update(DigestRun).where(DigestRun.id == run_id, DigestRun.queued_through == after)
        .values(queued_through=through, recipients=DigestRun.recipients + len(readers))
    )
    if not moved.rowcount:
        return False
    if readers:
        await session.execute(_COPY, [
            {"person_id": pid, "channel": i.channel, "account": i.account, "chat_id": i.chat_id, "now": now,
             "run_id": run_id, "shape": shape} for pid, shape, i in readers])
        session.info[NOTIFY_OTHERS] = True  # a job's rows: any replica's outbox may take them
    if last:
        await session.execute(delete(DigestPart).where(DigestPart.run_id == run_id))
    return True

