"""Can the people an urgent alert goes to be reached right now, and what reaches them when Zalo's
official-account window is closed.

- A Zalo OA may write to someone only within 7 days of their last message (-230 after that): an
  alert is then held until they write again (bot/channels/zalo_oa.py). For an urgent alert so held,
  a Zalo template message (ZNS / "ZBS Template Message") goes to them at once, beside their other
  channels: the case reference, "KHẨN CẤP", the reporter's village as their profile says and the
  reporter's phone, never anything about the case. Its button opens the OA chat, which reopens the
  window and releases the held alert. It counts as delivered, never as acknowledged.
- Cheaper and always there: someone who gets alerts, whose window closes within a day, is asked in
  one line to write anything; and once a day the admins get the list of alert recipients whom an
  urgent alert would not reach right now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Config
from core.events import Reply
from core.i18n import N_, day, translate
from handlers.admin_notices import admins
from handlers.context import ChatAddress, Services, job_step
from handlers.menu import ROLE_NAMES
from handlers.registry import job
from storage.db import reading
from storage.models import Case, Identity, OutboxMessage, Person, PersonRole
from storage.people import (
    OA_CHANNEL,
    OA_WINDOW,
    delivery_orders,
    held_chats,
    load_profile,
    oa_window_closed,
    oa_window_expired,
    phone_of,
    template_address,
)

TEMPLATE_CHANNEL = "zalo_template"
# The template is Vietnamese (Zalo approves templates in Vietnamese): these go into it as they are.
URGENT_WORD = "KHẨN CẤP"
FROM_PROFILE = "theo hồ sơ"

NUDGE_TAG = "nudge:oa-window"
NUDGE_BEFORE = timedelta(hours=24)  # the window closes within this: ask them to write
DAYTIME = (7, 21)  # local hours a nudge may go out in (a day always holds some)
DAILY_HOUR = 8  # the admins' list goes out on the first run from this local hour

NUDGE = N_("To keep receiving urgent alerts here on Zalo, please send any message (for example “ok”) today.")


def alert_roles(config: Config) -> tuple[str, ...]:
    """Who receives alerts: police, leaders and the office at once (handlers/alerts.py), and the
    roles [alerts] escalation adds."""
    return tuple(dict.fromkeys(("police", "leader", "office", *config.safety.escalation)))


def template_on(services: Services) -> bool:
    """A template channel runs here (configured, with the official account's credentials)."""
    return TEMPLATE_CHANNEL in services.capabilities


async def reporter_villages(session: AsyncSession, config: Config, case: Case) -> list[str]:
    """The reporter's villages by their profile (the commune's name if they have none): what an
    alert names before the form has asked where it happened."""
    commune = config.commune(case.commune_id) or config.communes[0]
    reporter = await load_profile(session, case.reporter_id)
    mine = set(reporter.villages) if reporter else set()
    return [v.name for v in commune.villages if v.id in mine] or [commune.name]


def national(e164: str | None) -> str:
    """+84912345678 → 0912345678: the number as it is dialled (and as a call button takes it)."""
    if not e164:
        return ""
    return "0" + e164[3:] if e164.startswith("+84") else e164.lstrip("+")


# ---- the template message beside a held urgent alert ----------------------------------------------


@dataclass(frozen=True)
class TemplateMessage:
    """What the runtime queues on the template channel: `fields` are all that is sent."""

    person_id: int
    account: str  # the official account's app id: its token sends the template
    chat_id: str  # "84…" or "uid:<Zalo user id>"
    fields: dict[str, str]
    tag: str


async def template_fields(session: AsyncSession, services: Services, case: Case) -> dict[str, str]:
    """The safe fields, and only those: never the kind of case, its answers or its text."""
    reporter = await session.get(Person, case.reporter_id)
    villages = await reporter_villages(session, services.config, case)
    return {
        "ref": case.ref,
        "urgent_word": URGENT_WORD,
        "village": f"{', '.join(villages)} ({FROM_PROFILE})",
        # A call button must hold a number: without the reporter's, the commune's duty phone to call.
        "reporter_phone": national(phone_of(services.keyring, reporter)) or _commune_phone(services, case),
    }


def _commune_phone(services: Services, case: Case) -> str:
    commune = services.config.commune(case.commune_id)
    phones = commune.phones if commune else None
    for number in ((phones.office_duty, phones.police) if phones else ()):
        digits = "".join(c for c in number if c.isdigit())  # "0208 3000 000" as a call button dials it
        if digits:
            return digits
    return "113"


def _case_of(tag: str | None) -> int | None:
    parts = (tag or "").split(":")
    return int(parts[1]) if len(parts) >= 2 and parts[0] == "alert" and parts[1].isdigit() else None


async def template_for_held(session: AsyncSession, services: Services, row: OutboxMessage) -> TemplateMessage | None:
    """An alert the official account had to hold (its window closed, known or answered -230): the
    template message to send beside it, once per case and person, while the case is urgent and
    nobody has acknowledged it. None when there is none to send."""
    case_id = _case_of(row.tag)
    if row.person_id is None or case_id is None:
        return None
    case = await session.get(Case, case_id)
    if case is None or not case.urgent or case.ack_at is not None:
        return None
    tag = f"alert:{case.id}:template"
    already = await session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.channel == TEMPLATE_CHANNEL, OutboxMessage.person_id == row.person_id,
        OutboxMessage.tag == tag, OutboxMessage.failed_at.is_(None)).limit(1))
    person = await session.get(Person, row.person_id)
    if already is not None or person is None or not person.active:
        return None
    address = template_address(phone_of(services.keyring, person), row.chat_id,
                               by_user_id=services.config.zalo_template.by_user_id)
    if address is None:
        return None
    return TemplateMessage(person.id, row.account, address, await template_fields(session, services, case), tag)


# ---- who an urgent alert would not reach ------------------------------------------------------------


@dataclass(frozen=True)
class Unreachable:
    person: Person
    role: str
    silent_since: datetime | None  # their last message on the official account; None: no channel at all


async def alert_recipients(session: AsyncSession, config: Config, commune_id: str) -> list[tuple[Person, str]]:
    roles = alert_roles(config)
    rows = (await session.execute(
        select(Person, PersonRole.role).join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.commune_id == commune_id, Person.active.is_(True), PersonRole.role.in_(roles))
        .order_by(Person.id)
    )).all()
    first: dict[int, tuple[Person, str]] = {}
    for person, role in sorted(rows, key=lambda r: (r[0].id, roles.index(r[1]))):
        first.setdefault(person.id, (person, role))
    return list(first.values())


async def unreachable_now(session: AsyncSession, services: Services, commune_id: str,
                          now: datetime) -> list[Unreachable]:
    """Alert recipients an urgent alert would reach nowhere now: no channel, or only official
    accounts whose window is closed and no template message to go instead. A few statements for
    any number of them (a province's office may hold thousands)."""
    out = []
    templates = template_on(services)
    by_uid = services.config.zalo_template.by_user_id
    recipients = await alert_recipients(session, services.config, commune_id)
    orders = await delivery_orders(session, [person.id for person, _ in recipients])
    only_oa = {pid: ids for pid, ids in orders.items() if all(i.channel == OA_CHANNEL for i in ids)}
    held = await held_chats(session, [i for ids in only_oa.values() for i in ids if not oa_window_expired(i, now)])
    for person, role in recipients:
        identities = only_oa.get(person.id)
        if identities is None:
            continue  # another channel reaches them
        if not all([await oa_window_closed(session, i, now, held=held) for i in identities]):
            continue  # an open window reaches them
        if identities and templates and (by_uid or phone_of(services.keyring, person)):
            continue
        seen = max((i.last_seen_at for i in identities if i.last_seen_at), default=None)
        out.append(Unreachable(person, role, seen))
    return out


def unreachable_text(lang: str, people: list[Unreachable], tz) -> str:
    t = lambda msgid, **kw: translate(lang, msgid, **kw)  # noqa: E731
    lines = [t("⚠️ An urgent alert would not reach these people right now ({count}):", count=len(people))]
    for u in people:
        who = t("{name} ({role})", name=u.person.name or "?", role=t(ROLE_NAMES.get(u.role, u.role)))
        if u.silent_since is None:
            lines.append("• " + t("{who}: no messenger linked", who=who))
        else:
            lines.append("• " + t("{who}: only the Zalo official account, which cannot write to them until they "
                                  "write again (their last message: {day})", who=who,
                                  day=day(u.silent_since.astimezone(tz).date())))
    lines.append(t("Ask them to send any message to the Zalo official account, or to link another messenger "
                   "with /lienket."))
    return "\n".join(lines)


async def _sent_since(session: AsyncSession, *, tag: str, since: datetime | None = None, person_id: int | None = None,
                      chat: tuple[str, str, str] | None = None) -> bool:
    stmt = select(OutboxMessage.id).where(OutboxMessage.tag == tag)
    if since is not None:
        stmt = stmt.where(OutboxMessage.created_at >= since)
    if person_id is not None:
        stmt = stmt.where(OutboxMessage.person_id == person_id)
    if chat is not None:
        stmt = stmt.where(OutboxMessage.channel == chat[0], OutboxMessage.account == chat[1],
                          OutboxMessage.chat_id == chat[2])
    return await session.scalar(stmt.limit(1)) is not None


@job("urgent_reach_daily", 900)
async def tell_admins_who_cannot_be_reached(services: Services, sessions, now: datetime) -> int:
    """Once a day, from DAILY_HOUR: each commune's admins get the list, when it is not empty."""
    sent = 0
    for commune in services.config.communes:
        local = now.astimezone(commune.tz)
        if local.hour < DAILY_HOUR:
            continue
        tag = f"reach:{commune.id}:{local.date().isoformat()}"[:64]
        async with reading(sessions)() as session, session.begin():  # most days: nobody, and no write lock
            if not await unreachable_now(session, services, commune.id, now):
                continue
        async with job_step(services, sessions, now) as out:
            people = await unreachable_now(out.session, services, commune.id, now)
            if not people:
                continue
            for admin in await admins(out.session, commune.id):
                if await _sent_since(out.session, tag=tag, person_id=admin.id):
                    continue
                out.alert(admin.id, Reply(text=unreachable_text(admin.lang, people, commune.tz), tag=tag),
                          kind="notice")
                sent += 1
    return sent


@job("oa_window_nudge", 3600)
async def nudge_before_the_window_closes(services: Services, sessions, now: datetime) -> int:
    """An alert recipient whose official-account window closes within a day is asked, once per
    window, in the daytime, to write anything."""
    roles = alert_roles(services.config)
    closing = (
        select(Identity, Person).join(Person, Person.id == Identity.person_id)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Identity.channel == OA_CHANNEL, Identity.unreachable_at.is_(None), Person.active.is_(True),
               PersonRole.role.in_(roles), Identity.last_seen_at <= now - (OA_WINDOW - NUDGE_BEFORE),
               Identity.last_seen_at > now - OA_WINDOW)
        .order_by(Identity.id)
    )
    async with reading(sessions)() as session, session.begin():  # most hours: nobody, and no write lock
        if (await session.execute(closing.limit(1))).first() is None:
            return 0
    sent = 0
    async with job_step(services, sessions, now) as out:
        session = out.session
        rows = (await session.execute(closing)).all()
        done: set[int] = set()
        for identity, person in rows:
            if identity.id in done:
                continue
            done.add(identity.id)
            commune = services.config.commune(person.commune_id) or services.config.communes[0]
            if not DAYTIME[0] <= now.astimezone(commune.tz).hour < DAYTIME[1]:
                continue
            chat = (identity.channel, identity.account, identity.chat_id)
            if await oa_window_closed(session, identity, now) or await _sent_since(
                    session, tag=NUDGE_TAG, since=identity.last_seen_at, chat=chat):
                continue
            out.to_chat(ChatAddress(*chat), Reply(text=translate(person.lang, NUDGE), tag=NUDGE_TAG),
                        person_id=person.id, kind="notice")
            sent += 1
    return sent
