"""Telling the admins when the bot needs them: a channel down, messages stuck in the outbox, a
failed digest, the Zalo quota nearly used up, the official account's token, the Zalo template
message, a full disk.

A scheduled job looks at the state of things, raises or resolves one notice per problem
(storage.operations.raise_notice / resolve_notice, which other features call too), and sends each
admin, on every channel they have, one message when a problem appears and one when it is gone.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import ROOT, Config, data_dir
from core.events import Reply
from core.i18n import N_, number, translate
from handlers.context import Outgoing, Services, job_step
from handlers.registry import job
from storage import operations as ops
from storage.models import AdminNotice, OutboxMessage, Person, PersonRole
from storage.people import people_with_role, users_per_account

log = logging.getLogger(__name__)

# Tests replace this to fake a full disk.
DISK_USAGE = shutil.disk_usage

TITLES = {
    "channel_down": N_("the {channel} channel outage"),
    "outbox_stuck": N_("messages waiting in the outbox"),
    "digest_failed": N_("the weekly digest of {commune}"),
    "zalo_quota": N_("the Zalo message quota"),
    "zalo_users": N_("the people a Zalo bot may serve"),
    "zalo_oa_token": N_("the Zalo official account's token"),
    "zalo_template": N_("the Zalo template message for urgent alerts"),
    "disk_low": N_("disk space for the data"),
}


def _family(key: str) -> str:
    return key.split(":", 1)[0]


def _when(value: str | None, tz: ZoneInfo) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(tz).strftime("%H:%M %d/%m/%Y")


def describe(lang: str, notice: AdminNotice, tz: ZoneInfo) -> str:
    """What the problem is, in the admin's language. Only counts, names and times."""
    p = dict(notice.params or {})
    family = _family(notice.key)
    t = lambda msgid, **kw: translate(lang, msgid, **kw)  # noqa: E731
    if family == "channel_down":
        return t("The {channel} channel has been down since {since}.", channel=p.get("channel", "?"),
                 since=_when(p.get("since"), tz))
    if family == "outbox_stuck":
        return t("{count} messages have been waiting to be sent for more than {minutes} minutes (the oldest since "
                 "{since}).", count=number(lang, p.get("count", 0)), minutes=p.get("minutes", 15),
                 since=_when(p.get("since"), tz))
    if family == "digest_failed":
        return t("The weekly digest of {commune} could not be sent.", commune=p.get("commune", "?"))
    if family == "zalo_quota":
        return t("Zalo messages used this month: {used} of {quota} ({percent}%). Past the quota Zalo refuses "
                 "to send.", used=number(lang, p.get("used", 0)), quota=number(lang, p.get("quota", 0)),
                 percent=p.get("percent", 0))
    if family == "zalo_users":
        return t("A Zalo bot serves {used} of the {limit} people its plan allows. Past that nobody new can enrol "
                 "there: give new people invites for Telegram or the Zalo official account.",
                 used=number(lang, p.get("used", 0)), limit=number(lang, p.get("limit", 0)))
    if family == "zalo_oa_token":
        return t("The access token of the Zalo official account could not be renewed. Re-authorise the official "
                 "account (see README).")
    if family == "zalo_template":
        # Raised by the start-up check (bot/channels/zalo_template.py); the problem is the check's own words.
        return t("The Zalo template message for urgent alerts cannot be used as configured: {problem}. Until it "
                 "is fixed, an urgent alert to someone whose Zalo window is closed waits until they write.",
                 problem=p.get("problem", "?"))
    if family == "disk_low":
        return t("The disk holding the bot's data has only {percent}% free.", percent=p.get("percent", 0))
    return t("Problem: {key}", key=notice.key)


def _title(lang: str, notice: AdminNotice) -> str:
    p = notice.params or {}
    msgid = TITLES.get(_family(notice.key))
    if msgid is None:
        return notice.key
    return translate(lang, msgid, channel=p.get("channel", "?"), commune=p.get("commune", "?"))


def notice_text(lang: str, notice: AdminNotice, tz: ZoneInfo, *, resolved: bool) -> str:
    if resolved:
        return translate(lang, "✅ Resolved: {problem}.", problem=_title(lang, notice))
    return "\n".join([
        translate(lang, "⚠️ The bot needs attention"),
        describe(lang, notice, tz),
        translate(lang, "On the server, `python -m bot status` shows the details."),
    ])


# ---- looking at the state of things ----------------------------------------------------------


def data_path(session: AsyncSession) -> Path:
    """The folder holding the data: the SQLite file's; on PostgreSQL the bot's data folder (the
    database server's disks are its own monitoring's business)."""
    url = session.bind.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    folder = data_dir()
    return folder if folder.exists() else ROOT


def month_start(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def _sync_family(session: AsyncSession, family: str, current: dict[str, dict], now: datetime) -> None:
    """Raise every problem of `family` that is there now; resolve the ones that are gone."""
    for key, params in current.items():
        commune_id = params.pop("commune_id", None)
        await ops.raise_notice(session, key, now=now, commune_id=commune_id, **params)
    for notice in await ops.open_notices(session, family):
        if _family(notice.key) == family and notice.key not in current:
            await ops.resolve_notice(session, notice.key, now=now)


async def check(session: AsyncSession, config: Config, now: datetime, *, zalo_quota: int | None = None,
                zalo_users: int | None = None) -> None:
    """Raise and resolve the notices this job watches itself (not zalo_oa_token: the OA code does).
    `zalo_quota`, `zalo_users`: the monthly messages and the people the Zalo Bot channel declares
    (its plan), else the config's."""
    o = config.operations
    quota_of_plan = zalo_quota or o.zalo_monthly_quota
    users_of_plan = zalo_users or o.zalo_bot_user_limit
    tz = config.communes[0].tz
    down = timedelta(minutes=o.channel_down_minutes)
    channels = {}
    for row in await ops.channel_states(session):
        since = row.since if not row.connected else row.seen_at  # connected but silent: nobody is running it
        if now - since >= down:
            channels[f"channel_down:{row.channel}"] = {"channel": row.channel, "since": since.isoformat()}
    await _sync_family(session, "channel_down", channels, now)

    backlog = await ops.outbox_backlog(session)
    stuck = {}
    if backlog.oldest is not None and now - backlog.oldest >= timedelta(minutes=o.outbox_stuck_minutes):
        stuck["outbox_stuck"] = {"count": backlog.waiting, "minutes": o.outbox_stuck_minutes,
                                 "since": backlog.oldest.isoformat()}
    await _sync_family(session, "outbox_stuck", stuck, now)

    failed = {}
    for digest in await ops.last_digests(session):
        if digest.failed:
            commune = config.commune(digest.commune_id)
            failed[f"digest_failed:{digest.commune_id}"] = {
                "commune": commune.name if commune else digest.commune_id, "commune_id": digest.commune_id}
    await _sync_family(session, "digest_failed", failed, now)

    used, _ = await ops.zalo_messages_since(session, month_start(now, tz))
    quota = {}
    for account, count in used.items():  # each Zalo bot has its own quota
        percent = count * 100 // quota_of_plan
        if percent >= o.zalo_quota_warn_percent:
            quota[f"zalo_quota:{account}"] = {"used": count, "quota": quota_of_plan, "percent": percent}
    await _sync_family(session, "zalo_quota", quota, now)

    served = {f"zalo_users:{account}": {"used": n, "limit": users_of_plan}
              for account, n in (await users_per_account(session, "zalo_bot")).items() if n >= o.zalo_users_warn}
    await _sync_family(session, "zalo_users", served, now)

    disk = {}
    try:
        usage = DISK_USAGE(data_path(session))
        free = usage.free * 100 / usage.total if usage.total else 100
        if free < o.disk_free_min_percent:
            disk["disk_low"] = {"percent": int(free)}
    except OSError:
        log.warning("could not measure the free disk space")
    await _sync_family(session, "disk_low", disk, now)


# ---- telling the admins --------------------------------------------------------------------------


async def admins(session: AsyncSession, commune_id: str | None) -> list[Person]:
    """The admins of a commune (and those of no commune); every admin for a deployment-wide problem."""
    stmt = (select(Person).join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == "admin", Person.active.is_(True)).order_by(Person.id))
    if commune_id is not None:
        stmt = stmt.where((Person.commune_id == commune_id) | Person.commune_id.is_(None))
    return list((await session.scalars(stmt)).all())


async def send_pending(out: Outgoing) -> int:
    session, config, now = out.session, out.config, out.now
    sent = 0
    for notice in await ops.notices_to_send(session):
        resolved = notice.notified_at is not None
        commune = config.commune(notice.commune_id) or config.communes[0]
        people = await admins(session, notice.commune_id)
        for person in people:
            text = notice_text(person.lang, notice, commune.tz, resolved=resolved)
            out.alert(person.id, Reply(text=text), kind="notice")
            sent += 1
        log.warning("admin notice %s %s; told %d admin(s)", notice.key, "resolved" if resolved else "raised",
                    len(people))
        if resolved:
            notice.resolution_notified_at = now
        else:
            notice.notified_at = now
    return sent


async def undeliverable(out: Outgoing, row: OutboxMessage) -> None:
    """A push none of its person's channels could take: the commune's admins are told (never what it
    said), so nothing fails unnoticed. Called by the outbox in the transaction that gives up on it."""
    person = await out.session.get(Person, row.person_id)
    if person is None or person.commune_id is None:
        return
    reason = (row.last_error or "").split(":", 1)[0][:60]
    for admin_id in await people_with_role(out.session, person.commune_id, "admin"):
        if admin_id == person.id:
            continue
        admin = await out.session.get(Person, admin_id)
        out.alert(admin.id, Reply(text=translate(
            admin.lang, "A message to {name} could not be delivered on any of their channels ({reason}). It is kept "
            "in the outbox; please contact them another way.", name=person.name or "?", reason=reason)), kind="notice")


@job("admin_notices", 60)
async def watch(services: Services, sessions, now: datetime) -> int:
    async with job_step(services, sessions, now) as out:
        declared = services.capabilities.get("zalo_bot")  # the running Zalo Bot channel's plan, if any
        await check(out.session, services.config, now, zalo_quota=declared.monthly_quota if declared else None,
                    zalo_users=declared.max_users if declared else None)
        return await send_pending(out)
