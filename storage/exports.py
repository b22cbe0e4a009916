"""/xuat requests: stored by the step that was asked, claimed and finished by the exports job
(handlers/office/exports.py), which builds the files outside any transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Incoming
from storage.crypto import Keyring
from storage.db import claim_rows
from storage.models import ExportRequest
from storage.stats import Period

LEASE = timedelta(minutes=10)  # a province's workbook takes a minute; a dead builder's request is taken again after this
MAX_ATTEMPTS = 3  # a request whose building failed (or whose builder died) this often is answered with an apology
RETRY_AFTER = timedelta(minutes=1)  # a failed build is tried again after this


@dataclass(frozen=True)
class Request:
    id: int
    person_id: int
    event: Incoming
    period: Period
    attempts: int


def ask(session: AsyncSession, keyring: Keyring, *, person_id: int, event: Incoming, period: Period,
        now: datetime) -> None:
    session.add(ExportRequest(
        person_id=person_id, event=keyring.encrypt(event.to_json()), created_at=now, attempts=0,
        period={"start": period.start.isoformat(), "end": period.end.isoformat(), "kind": period.kind,
                "ytd_start": period.ytd_start.isoformat()},
    ))


def _waiting(now: datetime):
    """Not done, and nobody building it."""
    return (ExportRequest.done_at.is_(None),
            or_(ExportRequest.claimed_until.is_(None), ExportRequest.claimed_until <= now))


async def any_waiting(session: AsyncSession, now: datetime) -> bool:
    """Whether a request waits for a builder (a read: the job's idle tick takes no write lock)."""
    return await session.scalar(select(ExportRequest.id).where(*_waiting(now)).limit(1)) is not None


async def claim_next(session: AsyncSession, keyring: Keyring, now: datetime) -> Request | None:
    """The oldest request nobody is building, claimed for LEASE (in the caller's transaction)."""
    row = await session.scalar(claim_rows(session, select(ExportRequest).where(*_waiting(now))
                                          .order_by(ExportRequest.id).limit(1)))
    if row is None:
        return None
    row.claimed_until = now + LEASE
    row.attempts += 1
    p = row.period
    period = Period(date.fromisoformat(p["start"]), date.fromisoformat(p["end"]), p["kind"],
                    date.fromisoformat(p["ytd_start"]))
    return Request(row.id, row.person_id, Incoming.from_json(keyring.decrypt(row.event)), period, row.attempts)


async def finish(session: AsyncSession, request_id: int, now: datetime, error: str | None = None) -> bool:
    """Done (its files queued, or given up with `error`), once: False if another builder finished it."""
    result = await session.execute(
        update(ExportRequest).where(ExportRequest.id == request_id, ExportRequest.done_at.is_(None))
        .values(done_at=now, claimed_until=None, error=error[:300] if error else None)
        .returning(ExportRequest.id)
    )
    return result.scalar() is not None


async def release(session: AsyncSession, request_id: int, error: str, now: datetime) -> None:
    """Building failed: tried again after RETRY_AFTER (claim_next counts the attempts)."""
    await session.execute(update(ExportRequest).where(ExportRequest.id == request_id)
                          .values(claimed_until=now + RETRY_AFTER, error=error[:300]))


async def release_all(session: AsyncSession) -> None:
    """At the start of the only process (SQLite): a build the last run did not finish is free at once."""
    await session.execute(update(ExportRequest).where(ExportRequest.done_at.is_(None), ExportRequest.claimed_until
                                                      .is_not(None)).values(claimed_until=None))
