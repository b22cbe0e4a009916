"""Retention: the free text of a case closed long ago is erased; its coded answers stay countable.
The files queued messages carried are dropped once they are long delivered, and so are the inbox's
rows of events handled long ago (their content went at once: only the row that dedups a
redelivery stayed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select

from storage.cases import audit
from storage.models import Case, CaseText, InboxEvent, OutboxBlob

BLOB_DAYS = 30  # a blob is kept this long: every row that names it is delivered or given up long before
# A handled event's row is kept this long: it refuses a platform's redelivery (Telegram keeps an
# update at most 24 hours, Zalo retries a webhook within minutes), and nothing else reads it.
INBOX_DAYS = 7
INBOX_BATCH = 2000  # rows deleted per transaction: the single writer is never held for long


def _closed_before(cutoff: datetime):
    return or_(Case.closed_at <= cutoff, (Case.closed_at.is_(None)) & (Case.status == "closed") & (Case.updated_at <= cutoff))


async def due_for_purge(session, now: datetime, years: int) -> list[Case]:
    cutoff = now - timedelta(days=365 * years)
    has_text = select(func.count()).select_from(CaseText).where(CaseText.case_id == Case.id).scalar_subquery()
    rows = await session.scalars(
        select(Case).where(_closed_before(cutoff), Case.text_purged_at.is_(None), has_text > 0).order_by(Case.id)
    )
    return list(rows.all())


async def purge(session, now: datetime, years: int) -> list[str]:
    """Erase the free text of those cases; returns their references."""
    cases = await due_for_purge(session, now, years)
    for case in cases:
        await session.execute(delete(CaseText).where(CaseText.case_id == case.id))
        case.text_purged_at = now
        audit(session, actor_id=None, channel="scheduler", action="text_purged", case_id=case.id, now=now)
    return [c.ref for c in cases]


async def expire_blobs(session, now: datetime) -> None:
    await session.execute(delete(OutboxBlob).where(OutboxBlob.created_at < now - timedelta(days=BLOB_DAYS)))


async def prune_inbox(sessions, now: datetime, *, batch: int = INBOX_BATCH) -> int:
    """Delete the rows of events handled more than INBOX_DAYS ago, a batch per transaction; returns
    how many. Rows still waiting (processed_at NULL) are never touched."""
    cutoff = now - timedelta(days=INBOX_DAYS)
    table = InboxEvent.__table__
    total = 0
    while True:
        async with sessions() as session, session.begin():
            ids = (await session.scalars(
                select(table.c.id).where(table.c.processed_at.is_not(None), table.c.processed_at < cutoff)
                .order_by(table.c.processed_at).limit(batch)
            )).all()
            if ids:
                await session.execute(delete(table).where(table.c.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
