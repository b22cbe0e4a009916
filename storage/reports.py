"""Outreach reports: references, storing, corrections that keep the earlier version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.models import Case, Counter, Photo, Report, ReportTopic


async def next_ref(session: AsyncSession, commune_id: str, prefix: str, year: int) -> str:
    """BC-2026-0001: numbered per commune and year, in one statement. Two reports at once each get
    their own number: the upsert takes the counter's row lock (PostgreSQL) or runs under the write
    lock (SQLite), and the first of a year makes the row."""
    value = await session.scalar(_next_value(session.bind.dialect.name),
                                 {"p_commune": commune_id, "p_kind": prefix, "p_year": year})
    return f"{prefix}-{year}-{value:04d}"


@cache
def _next_value(dialect: str):
    """Built once per dialect, its values bound: found in the compiled cache after."""
    insert = dialect_insert(dialect)(Counter).values(
        commune_id=bindparam("p_commune"), kind=bindparam("p_kind"), year=bindparam("p_year"), value=1)
    return (insert.on_conflict_do_update(index_elements=["commune_id", "kind", "year"],
                                         set_={"value": Counter.value + 1})
            .returning(Counter.value))


@dataclass(frozen=True)
class NewReport:
    commune_id: str
    person_id: int
    org: str | None
    fields: dict
    topics: list[str]
    photo_ids: list[int]


async def save_report(
    session: AsyncSession, new: NewReport, *, now: datetime, corrects: Report | None = None
) -> Report:
    if corrects is None:
        ref = await next_ref(session, new.commune_id, "BC", now.year)
    else:
        ref = corrects.ref
        corrects.superseded_at = now
    report = Report(
        ref=ref, commune_id=new.commune_id, person_id=new.person_id, org=new.org, created_at=now,
        corrects_id=corrects.id if corrects else None, **new.fields,
    )
    session.add(report)
    await session.flush()
    for topic in dict.fromkeys(new.topics):
        session.add(ReportTopic(report_id=report.id, topic=topic))
    await _keep_photos(session, new.photo_ids, report.id, new.person_id)
    await session.flush()
    return report


async def _keep_photos(session: AsyncSession, photo_ids: list[int], report_id: int, person_id: int) -> None:
    """New photos move onto the report; photos of an earlier version are copied so it keeps its own."""
    if not photo_ids:
        return
    for photo in (await session.scalars(select(Photo).where(Photo.id.in_(photo_ids)))).all():
        if photo.report_id is None and photo.person_id == person_id:
            photo.report_id = report_id
        elif photo.report_id is not None:
            session.add(
                Photo(
                    report_id=report_id, person_id=photo.person_id, mime=photo.mime, width=photo.width,
                    height=photo.height, data=photo.data, created_at=photo.created_at,
                )
            )


async def current_report(session: AsyncSession, ref: str, commune_id: str) -> Report | None:
    return await session.scalar(
        select(Report).where(Report.ref == ref, Report.commune_id == commune_id, Report.superseded_at.is_(None))
    )


async def recent_reports(session: AsyncSession, person_id: int, limit: int = 10) -> list[Report]:
    rows = await session.scalars(
        select(Report)
        .where(Report.person_id == person_id, Report.superseded_at.is_(None))
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(limit)
    )
    return list(rows.all())


async def topics_of(session: AsyncSession, report_id: int) -> list[str]:
    return list((await session.scalars(select(ReportTopic.topic).where(ReportTopic.report_id == report_id))).all())


async def first_version_date(session: AsyncSession, ref: str, commune_id: str) -> datetime | None:
    """When the report was first sent: the correction window counts from then."""
    return await session.scalar(
        select(Report.created_at).where(Report.ref == ref, Report.commune_id == commune_id).order_by(Report.id).limit(1)
    )


async def versions(session: AsyncSession, ref: str, commune_id: str) -> list[Report]:
    rows = await session.scalars(select(Report).where(Report.ref == ref, Report.commune_id == commune_id).order_by(Report.id))
    return list(rows.all())


async def just_saved(session: AsyncSession, person_id: int, since: datetime) -> str | None:
    """The reference of what the person saved last (a report, or a case they confirmed) since
    `since`, if anything: a second "xác nhận" after the save is answered with it."""
    report = (await session.execute(
        select(Report.ref, Report.created_at).where(Report.person_id == person_id, Report.created_at >= since)
        .order_by(Report.created_at.desc()).limit(1))).first()
    case = (await session.execute(
        select(Case.ref, Case.confirmed_at).where(Case.reporter_id == person_id, Case.confirmed_at >= since)
        .order_by(Case.confirmed_at.desc()).limit(1))).first()
    found = [row for row in (report, case) if row is not None]
    return max(found, key=lambda row: row[1])[0] if found else None
