"""Safety of people: acknowledged alerts, escalation, "nobody reached", withdrawal requests,
the audit log for the office, and throttling a flood."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Reply
from core.i18n import N_, translate
from handlers import parsing
from handlers.alerts import alert_person
from handlers.context import Ctx, Services, job_step
from handlers.menu import ROLE_NAMES
from handlers.registry import Press, button, command, job
from storage import cases as store
from storage.db import claim_rows
from storage.models import Alert, AuditEntry, Case, InboxEvent, OutboxMessage, Person
from storage.people import people_with_role
from storage.step_read import cached_flood

RESPONDERS = ("police", "leader", "office", "admin")
MAX_RESENDS = 6


# ---- acknowledging ------------------------------------------------------------------------


@command("nhan", N_("Acknowledge an alert: NHAN HS-…"), order=60, in_menu=False, bare=True)
async def acknowledge_typed(ctx: Ctx, arg: str) -> None:
    case = await store.case_by_ref(ctx.session, ctx.person.commune_id, arg) if arg else None
    await acknowledge(ctx, case)


@button("a", command="nhan")
async def acknowledge_pressed(ctx: Ctx, press: Press) -> None:
    case = await ctx.session.get(Case, int(press.arg)) if press.arg.isdigit() else None
    await acknowledge(ctx, case)


async def _was_alerted(session: AsyncSession, case_id: int, person_id: int) -> bool:
    return bool(await session.scalar(
        select(func.count()).select_from(Alert).where(Alert.case_id == case_id, Alert.recipient_id == person_id)
    ))


async def acknowledge(ctx: Ctx, case: Case | None) -> None:
    """The first person to acknowledge takes the case; the others and the reporter are told."""
    if (case is None or not ctx.person.has(*RESPONDERS) or case.commune_id != ctx.person.commune_id
            or not await _was_alerted(ctx.session, case.id, ctx.person.id)):
        ctx.say(ctx.t("There is no alert with that reference for you."))
        return
    if case.ack_at is not None:
        taker = await ctx.session.get(Person, case.ack_by)
        ctx.say(ctx.t("Case {ref} was already acknowledged by {name}.", ref=case.ref, name=taker.name if taker else "?"))
        return
    now = ctx.now
    case.ack_by, case.ack_at, case.next_escalation_at = ctx.person.id, now, None
    await ctx.session.execute(
        update(Alert).where(Alert.case_id == case.id, Alert.recipient_id == ctx.person.id)
        .values(acknowledged_by=ctx.person.id, acknowledged_at=now)
    )
    store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="acknowledge",
                case_id=case.id, now=now)
    ctx.say(ctx.t("You have acknowledged case {ref}. The others have been told.", ref=case.ref))
    role = next((r for r in RESPONDERS if r in ctx.person.roles), "")
    others = (await ctx.session.scalars(
        select(Alert.recipient_id).where(Alert.case_id == case.id, Alert.recipient_id != ctx.person.id).distinct()
    )).all()
    for person_id in others:
        person = await ctx.session.get(Person, person_id)
        text = translate(person.lang, "Case {ref} has been acknowledged by {name} ({role}).", ref=case.ref,
                         name=ctx.person.name, role=translate(person.lang, ROLE_NAMES.get(role, role)))
        ctx.push(person_id, Reply(text=text))
    reporter = await ctx.session.get(Person, case.reporter_id)
    if reporter is not None and reporter.id != ctx.person.id:
        ctx.push(reporter.id, Reply(text=translate(reporter.lang, "An officer has taken up case {ref}.", ref=case.ref)))


# ---- escalation -------------------------------------------------------------------------


@job("escalate_alerts", 30)
async def escalate(services: Services, sessions, now) -> int:
    """An alert nobody acknowledged is sent again, each time to the next role of [alerts] escalation too."""
    safety = services.config.safety
    done = 0
    async with job_step(services, sessions, now) as out:
        session = out.session
        stmt = select(Case).where(Case.next_escalation_at <= now, Case.ack_at.is_(None)).limit(50)
        stmt = claim_rows(session, stmt)
        for case in (await session.scalars(stmt)).all():
            case.escalation_step += 1
            alerted = dict((await session.execute(
                select(Alert.recipient_id, Alert.role).where(Alert.case_id == case.id)
            )).all())
            for role in safety.escalation:  # the next role with someone not alerted yet joins
                if role == "police" and not case.police_routed:
                    continue  # consent: the police see only the cases routed to them
                new = [p for p in await people_with_role(session, case.commune_id, role) if p not in alerted]
                if new:
                    alerted.update((p, role) for p in new)
                    break
            kind = "urgent" if case.urgent and case.details_sent_at is None else "details"
            for person_id, role in alerted.items():
                await alert_person(out, case, person_id, role, kind,
                                   note=N_("Reminder: nobody has acknowledged this alert yet."))
            more = case.escalation_step < len(safety.escalation) + MAX_RESENDS
            case.next_escalation_at = now + timedelta(minutes=safety.ack_minutes) if more else None
            done += 1
    return done


@job("check_alerts_reached", 15)
async def check_reached(services: Services, sessions, now) -> int:
    """An urgent case whose alert reached nobody within a minute: the reporter is told to call 113."""
    limit = now - timedelta(seconds=services.config.safety.reach_seconds)
    done = 0
    async with job_step(services, sessions, now) as out:
        session = out.session
        stmt = select(Case).where(Case.urgent.is_(True), Case.reach_checked_at.is_(None), Case.created_at <= limit)
        stmt = stmt.limit(50)
        stmt = claim_rows(session, stmt)
        for case in (await session.scalars(stmt)).all():
            case.reach_checked_at = now
            delivered = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.tag.like(f"alert:{case.id}:%"), OutboxMessage.delivered_at.is_not(None))
            )
            if delivered:
                continue
            reporter = await session.get(Person, case.reporter_id)
            if reporter is not None:
                out.alert(reporter.id, Reply(text=translate(
                    reporter.lang, "We could not reach any officer yet about case {ref}. If someone is in danger, "
                    "call 113 now.", ref=case.ref)))
            for admin_id in await people_with_role(session, case.commune_id, "admin"):
                admin = await session.get(Person, admin_id)
                out.alert(admin_id, Reply(text=translate(
                    admin.lang, "No officer could be reached about urgent case {ref} within a minute. Please check "
                    "the bot's channels and call the commune police.", ref=case.ref)))
            done += 1
    return done


# ---- withdrawal and the audit log -----------------------------------------------------------


@command("rutlai", N_("Ask to withdraw a case you reported: /rutlai HS-…"),
         order=40, in_menu=False)
async def withdraw(ctx: Ctx, arg: str) -> None:
    case = await store.case_by_ref(ctx.session, ctx.person.commune_id, arg) if arg else None
    if case is None or case.reporter_id != ctx.person.id:
        ctx.say(ctx.t("No case of yours has the reference {ref}.", ref=parsing.quotable(arg or "—", 20)))
        return
    case.withdrawal_requested_at = ctx.now
    store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="withdrawal_requested",
                case_id=case.id, now=ctx.now)
    for person_id in await people_with_role(ctx.session, case.commune_id, "office"):
        person = await ctx.session.get(Person, person_id)
        ctx.push(person_id, Reply(text=translate(person.lang, "The reporter of case {ref} asks to withdraw it. "
                                                 "The case and its alerts stay as they are.", ref=case.ref)))
    ctx.say(ctx.t("Your request to withdraw case {ref} has been sent to the culture-society office. The case is "
                  "not erased and alerts already sent are not taken back.", ref=case.ref))


@command("nhatky", N_("Who read or changed a case: /nhatky HS-…"), order=70, in_menu=False)
async def audit_log(ctx: Ctx, arg: str) -> None:
    case = await store.case_by_ref(ctx.session, ctx.person.commune_id, arg) if arg else None
    if case is None:
        ctx.say(ctx.t("There is no case {ref} in your commune.", ref=parsing.quotable(arg or "—", 20)))
        return
    store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="read_audit_log",
                case_id=case.id, now=ctx.now)
    rows = (await ctx.session.execute(
        select(AuditEntry, Person.name).outerjoin(Person, Person.id == AuditEntry.actor_id)
        .where(AuditEntry.case_id == case.id).order_by(AuditEntry.id)
    )).all()
    tz = ctx.commune.tz
    lines = [ctx.t("Audit log of case {ref}:", ref=case.ref)]
    for entry, name in rows[-50:]:
        when = entry.at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
        lines.append(f"{when} · {name or '—'} · {entry.action} · {entry.channel}")
    ctx.say("\n".join(lines))


# ---- flood --------------------------------------------------------------------------------


# Answering the waiting question or pressing the bot's current buttons is a conversation, not a
# flood: it may go three times faster (two a second is beyond any person filling a form) and
# still has a ceiling, so a script inside a form gets a bounded number of answers too.
CONVERSATION_FACTOR = 3


FLOOD_WINDOW = timedelta(minutes=1)  # the flood guard counts a person's messages over this


async def flooding(ctx: Ctx, *, relaxed: bool = False) -> bool:
    """True when this person sent more than the limit in the last minute; they are told once.

    The urgent path never comes here (handlers/dispatch.py): a case request, the danger answer
    and an emergency word always pass."""
    limit = ctx.config.safety.flood_per_minute * (CONVERSATION_FACTOR if relaxed else 1)
    since = ctx.now - FLOOD_WINDOW
    count = cached_flood(ctx.session, ctx.event.conv_key, since)
    if count is None:
        count = await ctx.session.scalar(
            select(func.count()).select_from(InboxEvent).where(
                InboxEvent.conv_key == ctx.event.conv_key, InboxEvent.received_at > since,
                InboxEvent.id <= (ctx.inbox_id or 2**62),
            )
        ) or 0
    if count <= limit:
        return False
    if count == limit + 1:
        ctx.say(ctx.t("You are sending messages very fast. Please wait a minute, then continue."))
    return True


@job("retention", 3600)
async def retention(services: Services, sessions, now) -> int:
    from storage.retention import prune_inbox, purge

    async with sessions() as session, session.begin():
        purged = len(await purge(session, now, services.config.safety.case_text_years))
    await prune_inbox(sessions, now)
    return purged
