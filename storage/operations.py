"""What the person who runs the bot needs to know: channel status, the outbox backlog, open
alerts, the Zalo quota, the last digests, the database size, and the admin notices.

Plain query functions that take a session; nothing here writes anything but channel_status and
admin_notices. Read only counts, times and names: never a payload, a case text or a phone number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import claim_rows, upsert_insert
from storage.models import AdminNotice, Alert, ChannelStatus, OutboxMessage, Person

ZALO_BOT_CHANNEL = "zalo_bot"


# ---- channels ------------------------------------------------------------------------------


async def record_channel(session: AsyncSession, channel: str, connected: bool, *, now: datetime,
                         detail: str = "", fresh: bool = False) -> None:
    """Write a channel's state. `since` moves only on a change (or when `fresh`: a new process)."""
    row = await session.get(ChannelStatus, channel)
    if row is None:
        session.add(ChannelStatus(channel=channel, connected=connected, since=now, seen_at=now, detail=detail[:200]))
        return
    if fresh or row.connected != connected:
        row.since = now
    row.connected, row.seen_at, row.detail = connected, now, detail[:200]


async def touch_channels(session: AsyncSession, channels: list[str], *, now: datetime) -> None:
    """The heartbeat: these channels' states are still what this process last said."""
    for row in (await session.scalars(select(ChannelStatus).where(ChannelStatus.channel.in_(channels)))).all():
        row.seen_at = now


async def forget_stopped_channels(session: AsyncSession, keep: list[str]) -> None:
    """A channel that was stopped cleanly and is not run any more was removed from the deployment."""
    rows = await session.scalars(select(ChannelStatus).where(ChannelStatus.connected.is_(False)))
    for row in rows.all():
        if row.channel not in keep and row.detail == "stopped":
            await session.delete(row)


async def channel_states(session: AsyncSession) -> list[ChannelStatus]:
    return list((await session.scalars(select(ChannelStatus).order_by(ChannelStatus.channel))).all())


# ---- outbox, alerts, quota -----------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    waiting: int  # not delivered and not failed for good
    oldest: datetime | None
    by_channel: dict[str, int]
    failed: int  # given up on, ever (a person who blocked the bot, say)


async def outbox_backlog(session: AsyncSession) -> Backlog:
    pending = (OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))
    rows = (await session.execute(
        select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.created_at))
        .where(*pending).group_by(OutboxMessage.channel)
    )).all()
    failed = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.failed_at.is_not(None)))
    oldest = min((r[2] for r in rows if r[2] is not None), default=None)
    if oldest is not None and oldest.tzinfo is None:  # aggregates bypass the column type on SQLite
        oldest = _utc(oldest)
    return Backlog(sum(r[1] for r in rows), oldest, {r[0]: r[1] for r in rows}, failed or 0)


@dataclass(frozen=True)
class OpenAlerts:
    alerts: int  # urgent alerts sent about those cases
    cases: int  # urgent cases nobody has acknowledged yet
    oldest: datetime | None


async def open_alerts(session: AsyncSession) -> OpenAlerts:
    """Urgent alerts about cases that nobody has acknowledged yet. One acknowledgement takes the
    case for everyone (only the acknowledger's own alert rows get acknowledged_at), so a case
    counts as open while none of its alerts is acknowledged. Coded-details alerts ask for nothing."""
    taken = select(Alert.case_id).where(Alert.acknowledged_at.is_not(None))
    count, cases, oldest = (await session.execute(
        select(func.count(), func.count(func.distinct(Alert.case_id)), func.min(Alert.created_at))
        .where(Alert.kind == "urgent", Alert.acknowledged_at.is_(None), Alert.case_id.not_in(taken))
    )).one()
    return OpenAlerts(count or 0, cases or 0, _utc(oldest))


async def zalo_messages_since(session: AsyncSession, start: datetime) -> tuple[dict[str, int], bool]:
    """Zalo Bot messages delivered since `start`, per bot account (each has its own quota; a reply
    split in parts counts each part), and whether Zalo Bot is in use here at all."""
    rows = (await session.execute(
        select(OutboxMessage.account, OutboxMessage.platform_ids).where(
            OutboxMessage.channel == ZALO_BOT_CHANNEL, OutboxMessage.delivered_at >= start)
    )).all()
    used: dict[str, int] = {}
    for account, ids in rows:
        used[account] = used.get(account, 0) + (len(ids) if ids else 1)
    in_use = bool(rows) or bool(await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == ZALO_BOT_CHANNEL)))
    if not in_use:
        in_use = bool(await session.scalar(select(func.count()).select_from(ChannelStatus).where(
            ChannelStatus.channel.startswith(ZALO_BOT_CHANNEL))))
    return used, in_use


async def database_size(session: AsyncSession) -> int | None:
    """Bytes used by the database (SQLite: pages in use; PostgreSQL: pg_database_size)."""
    try:
        if session.bind.dialect.name == "postgresql":
            return await session.scalar(text("SELECT pg_database_size(current_database())"))
        pages = await session.scalar(text("PRAGMA page_count"))
        size = await session.scalar(text("PRAGMA page_size"))
        return pages * size
    except Exception:  # noqa: BLE001 - a figure to show, not a reason to fail
        return None


def _utc(value):
    from datetime import UTC

    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates come back as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---- digests ---------------------------------------------------------------------------------
#
# The weekly digest keeps its runs in a table of its own. This is the ONE place that reads it for
# operations, written to tolerate its absence and to pick the columns it recognises; adapt it here
# if the digest's table changes.

DIGEST_TABLES = ("digest_runs",)
_TIME_COLUMNS = ("finished_at", "sent_at", "completed_at", "claimed_at", "ran_at", "created_at", "started_at")
_LABEL_COLUMNS = ("week", "period", "week_label", "iso_week", "period_start", "week_start")
_FAILED_STATES = ("failed", "error", "errored")


@dataclass(frozen=True)
class DigestStatus:
    commune_id: str
    label: str  # which week
    at: datetime | None
    failed: bool  # the run says so, or a recipient's copy was given up on
    recipients: int | None  # people it went to (None: unknown)
    delivered: int | None  # of whom it reached


async def _table_columns(session: AsyncSession, name: str) -> list[str] | None:
    def look(sync_session):
        insp = inspect(sync_session.connection())
        if not insp.has_table(name):
            return None
        return [c["name"] for c in insp.get_columns(name)]

    return await session.run_sync(look)


async def last_digests(session: AsyncSession) -> list[DigestStatus]:
    """The latest digest run of each commune; [] when there is no digest table or no run yet."""
    for table in DIGEST_TABLES:
        columns = await _table_columns(session, table)
        if columns and "commune_id" in columns:
            break
    else:
        return []
    time_col = next((c for c in _TIME_COLUMNS if c in columns), None)
    order = f'"{time_col}" DESC, ' if time_col else ""
    order += '"id" DESC' if "id" in columns else "1"
    rows = (await session.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))).mappings().all()
    latest: dict[str, dict] = {}
    for row in rows:
        latest.setdefault(row["commune_id"], dict(row))
    out = []
    for commune_id, row in sorted(latest.items()):
        at = _utc(row.get(time_col)) if time_col else None
        state = str(row.get("status") or row.get("state") or "").lower()
        failed = state in _FAILED_STATES or bool(row.get("error"))
        label = next((str(row[c]) for c in _LABEL_COLUMNS if row.get(c) is not None), "")
        recipients = next((row[c] for c in ("recipients", "recipient_count") if isinstance(row.get(c), int)), None)
        delivered = None
        if at is not None:
            queued, delivered, given_up = await _digest_deliveries(session, commune_id, at)
            failed = failed or given_up > 0
            recipients = queued if recipients is None else recipients
        out.append(DigestStatus(commune_id, label, at, failed, recipients, delivered))
    return out


async def _digest_deliveries(session: AsyncSession, commune_id: str, at: datetime) -> tuple[int, int, int]:
    """People of the commune sent an outbox message of kind 'digest' around the run: queued,
    delivered, given up on (a person counts once however many parts their digest had)."""
    window = (OutboxMessage.created_at >= at - timedelta(minutes=5), OutboxMessage.created_at <= at + timedelta(hours=1))
    person = func.count(func.distinct(OutboxMessage.person_id))
    base = (select(person).join(Person, Person.id == OutboxMessage.person_id)
            .where(OutboxMessage.kind == "digest", Person.commune_id == commune_id, *window))
    queued = await session.scalar(base)
    delivered = await session.scalar(base.where(OutboxMessage.delivered_at.is_not(None)))
    given_up = await session.scalar(base.where(OutboxMessage.failed_at.is_not(None)))
    return queued or 0, delivered or 0, given_up or 0


# ---- admin notices -----------------------------------------------------------------------------


async def raise_notice(session: AsyncSession, key: str, *, now: datetime, commune_id: str | None = None,
                       **params) -> bool:
    """Say that problem `key` exists now. The admins are told once (by the admin_notices job); a
    problem already raised and not resolved is not raised again. True if it is new.

    Other features call this too, e.g. raise_notice(session, "zalo_oa_token", now=now) when the
    official account's token cannot be refreshed, and resolve_notice(...) once it can. `params`
    fill the message (numbers, names of channels or communes): never a secret or case data."""
    postgres = session.bind.dialect.name == "postgresql"
    insert = upsert_insert(session)
    # Two processes may find the same problem at once: the row is made once (as if an old problem,
    # already resolved, so that it is opened below like any recurrence), then locked.
    await session.execute(insert(AdminNotice).values(
        key=key, commune_id=commune_id, params=params, raised_at=now, notified_at=None, resolved_at=now,
        resolution_notified_at=now).on_conflict_do_nothing(index_elements=["key"]))
    row = await session.get(AdminNotice, key, with_for_update=postgres, populate_existing=True)
    if row.resolved_at is None:
        if params and row.params != params:
            row.params = params
        return False
    row.commune_id, row.params, row.raised_at = commune_id, params, now
    row.notified_at = row.resolved_at = row.resolution_notified_at = None
    await session.flush()
    return True


async def resolve_notice(session: AsyncSession, key: str, *, now: datetime) -> bool:
    """The problem `key` is gone; the admins are told once. True if it was open."""
    row = await session.get(AdminNotice, key)
    if row is None or row.resolved_at is not None:
        return False
    row.resolved_at = now
    if row.notified_at is None:  # came and went before anyone was told: tell nobody
        row.notified_at = row.resolution_notified_at = now
    await session.flush()
    return True


async def open_notices(session: AsyncSession, prefix: str = "") -> list[AdminNotice]:
    stmt = select(AdminNotice).where(AdminNotice.resolved_at.is_(None))
    if prefix:
        stmt = stmt.where(AdminNotice.key.startswith(prefix, autoescape=True))
    return list((await session.scalars(stmt.order_by(AdminNotice.key))).all())


async def notices_to_send(session: AsyncSession) -> list[AdminNotice]:
    """Raised but not yet told, or resolved but the resolution not yet told."""
    stmt = select(AdminNotice).where(
        (AdminNotice.notified_at.is_(None))
        | (AdminNotice.resolved_at.is_not(None) & AdminNotice.resolution_notified_at.is_(None))
    ).order_by(AdminNotice.raised_at, AdminNotice.key)
    stmt = claim_rows(session, stmt)
    return list((await session.scalars(stmt)).all())


async def unreachable_people(session: AsyncSession) -> tuple[int, int]:
    """(identities the person made unreachable — unfollowed the official account —, and of their
    people those with no reachable channel left at all)."""
    from storage.models import Identity

    gone = (await session.scalars(select(Identity.person_id).where(Identity.unreachable_at.is_not(None)))).all()
    if not gone:
        return 0, 0
    reachable = set((await session.scalars(
        select(Identity.person_id).where(Identity.person_id.in_(set(gone)), Identity.unreachable_at.is_(None))
    )).all())
    return len(gone), len(set(gone) - reachable)
