"""Alerts about cases: the urgent one at once, the coded details after. Never free text.

Every alert carries "Đã tiếp nhận" (a button, or `NHAN HS-…` typed where there are no buttons);
until someone acknowledges, handlers/safety.py sends it again and escalates.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import vocabulary as form
from core.events import Choice, Reply
from core.i18n import N_, day, translate
from handlers.context import Ctx, Outgoing, Services, job_step
from handlers.parsing import display_phone
from handlers.reachability import reporter_villages  # also registers its jobs (handlers/features.py imports this)
from handlers.registry import job
from storage import cases as store
from storage.db import claim_rows
from storage.models import Alert, Case, Person
from storage.people import phone_of


def emergency_numbers(ctx: Ctx, case: Case) -> str:
    phones = ctx.commune.phones
    lines = [ctx.t("URGENT case {ref} has been created. The commune police and leaders are being alerted now.",
                   ref=case.ref), ctx.t("If someone is in danger, call now:")]
    if phones.police:
        lines.append(ctx.t("• Commune police: {phone}", phone=phones.police))
    if phones.office_duty:
        lines.append(ctx.t("• Culture-society office duty phone: {phone}", phone=phones.office_duty))
    lines.append(ctx.t("• 113 (police)"))
    lines.append(ctx.t("• 111 (if a child is involved)"))
    return "\n".join(lines)


def numbers_line(ctx: Ctx) -> str:
    """The numbers to call, in one line: kept after the form's questions are wiped from the chat."""
    police = ctx.commune.phones.police
    numbers = ([ctx.t("Commune police {phone}", phone=police)] if police else []) + ["113", ctx.t("111 (if a child is involved)")]
    return ctx.t("If someone is in danger, call: {numbers}", numbers=" · ".join(numbers))


async def reporter_line(session: AsyncSession, services: Services, lang: str, case: Case) -> str:
    reporter = await session.get(Person, case.reporter_id)
    name = reporter.name if reporter else "?"
    phone = phone_of(services.keyring, reporter)
    if phone:
        return translate(lang, "Reported by: {name}, phone number {phone}", name=name, phone=display_phone(phone))
    return translate(lang, "Reported by: {name}, no phone number yet", name=name)


def ack_button(lang: str, case: Case) -> Choice:
    return Choice(translate(lang, "Acknowledge (Đã tiếp nhận)"), f"a:{case.id}", control=True,
                  keyword=f"NHAN {case.ref}")


async def urgent_text(session: AsyncSession, services: Services, lang: str, case: Case) -> str:
    villages = await reporter_villages(session, services.config, case)  # the template message names the same
    return "\n".join([
        translate(lang, "🔴 URGENT — case {ref}", ref=case.ref),
        await reporter_line(session, services, lang, case),
        translate(lang, "Village(s): {villages} (from the reporter's profile)", villages=", ".join(villages)),
        translate(lang, "Someone may be in immediate danger. Please contact the reporter now."),
    ])


async def details_text(session: AsyncSession, services: Services, lang: str, case: Case) -> str:
    codes = await store.codes_of(session, case.id)
    people = await store.people_of(session, case.id)
    commune = services.config.commune(case.commune_id)
    return coded_summary(lang, case, codes, people, commune) + "\n" + await reporter_line(session, services, lang, case)


async def alert_person(out: Outgoing, case: Case, person_id: int, role: str, kind: str, *, note: str = "") -> None:
    """One alert to one person on every channel they have, with the acknowledge button."""
    session, services = out.session, out.services
    person = await session.get(Person, person_id)
    lang = person.lang
    text = await (urgent_text if kind == "urgent" else details_text)(session, services, lang, case)
    if note:
        text = translate(lang, note) + "\n" + text
    choices = () if case.ack_at else (ack_button(lang, case),)
    reply = Reply(text=text, choices=choices, tag=f"alert:{case.id}:{kind}")
    out.alert(person_id, reply)
    session.add(Alert(case_id=case.id, kind=kind, recipient_id=person_id, role=role, created_at=out.now))


async def send_phone(out: Outgoing, case: Case, phone: str) -> int:
    """The reporter's number, given after the urgent alert went out without it: at once, to everyone
    the case alerted, as a new message on every channel (an edited alert would notify nobody)."""
    session = out.session
    recipients = (await session.scalars(
        select(Alert.recipient_id).where(Alert.case_id == case.id).distinct().order_by(Alert.recipient_id)
    )).all()
    sent = 0
    for person_id in recipients:
        person = await session.get(Person, person_id)
        if person is None or not person.active:
            continue
        text = translate(person.lang, "🔴 {ref}: the reporter's phone number: {phone}", ref=case.ref,
                         phone=display_phone(phone))
        choices = () if case.ack_at else (ack_button(person.lang, case),)
        out.alert(person_id, Reply(text=text, choices=choices, tag=f"alert:{case.id}:phone"))
        sent += 1
    return sent


def _await_ack(services: Services, case: Case, now) -> None:
    if case.ack_at is None and case.next_escalation_at is None:
        case.next_escalation_at = now + timedelta(minutes=services.config.safety.ack_minutes)


async def send_urgent(ctx: Ctx, case: Case) -> None:
    """Police, leaders and the office of the commune, on every channel each of them has."""
    for person_id, role in await store.recipients(ctx.session, case, with_police=True):
        await alert_person(ctx, case, person_id, role, "urgent")
    _await_ack(ctx.services, case, ctx.now)


async def send_details(out: Outgoing, case: Case) -> int:
    """The coded details to leaders and the office, and to the police where the case is routed."""
    targets = await store.recipients(out.session, case, with_police=case.police_routed)
    for person_id, role in targets:
        await alert_person(out, case, person_id, role, "details")
    case.details_sent_at = out.now
    _await_ack(out.services, case, out.now)
    return len(targets)


def _labels(lang: str, options, codes) -> str:
    names = {o.code: translate(lang, o.label) for o in options}
    return ", ".join(names.get(c, c) for c in codes) or "—"


def coded_summary(lang: str, case: Case, codes: dict, people: list, commune, *, described: bool = False) -> str:
    """The answers chosen from lists. `described`: the caller prints the case's free text after it
    (an officer who may read it), so the heading does not say there is none."""
    def t(msgid: str, **kw) -> str:
        return translate(lang, msgid, **kw)

    def one(options, code):
        return _labels(lang, options, [code] if code else [])

    village = commune.village(case.village_id) if commune and case.village_id else None
    head = t("🔴 URGENT — case {ref}", ref=case.ref) if case.urgent else t("Case {ref}", ref=case.ref)
    lines = [
        # Not "thông tin mã hóa" (that means encrypted): the answers chosen from lists, never a description.
        head if described else head + " · " + t("details from the lists, no description"),
        t("Village: {village} · Date: {date}", village=village.name if village else "—",
          date=day(case.occurred_on) if case.occurred_on else "—"),
        t("Kind: {kind}", kind=one(form.KINDS, case.kind)),
        t("Forms of violence: {forms}", forms=_labels(lang, form.FORMS_OF_VIOLENCE, codes.get("forms", []))),
    ]
    # Each kind in its own legal words (trafficking: "nạn nhân", Law 53/2024).
    person_line, committed_line = {
        "sexual_abuse": (N_("Person subjected to violence or abuse {n}: {sex}, {age}"),
                         N_("Person who committed the violence or abuse: {sex}, {age}, {relationship}")),
        "trafficking": (N_("Victim or person being identified as a victim {n}: {sex}, {age}"),
                        N_("Person suspected of trafficking: {sex}, {age}, {relationship}")),
    }.get(case.kind or "", (N_("Person subjected {n}: {sex}, {age}"),
                            N_("Person who committed it: {sex}, {age}, {relationship}")))
    for p in people:
        lines.append(t(person_line, n=p.position, sex=one(form.SEXES, p.sex),
                       age=one(form.SUBJECTED_AGES + (form.AGE_NOT_KNOWN_LABEL,), p.age_group)))
    lines.append(t(committed_line, sex=one(form.SEXES, case.perpetrator_sex),
                   age=one(form.PERPETRATOR_AGES + (form.AGE_NOT_KNOWN_LABEL,), case.perpetrator_age),
                   relationship=one(form.RELATIONSHIPS, case.relationship)))
    lines.append(t("Measures applied: {measures}", measures=_labels(lang, form.MEASURES, codes.get("measures", []))))
    lines.append(t("Support received: {support}", support=_labels(lang, form.SUPPORT, codes.get("support", []))))
    lines.append(t("Consent to share: {consent}", consent=one(form.CONSENT, case.consent)))
    return "\n".join(lines)


@job("urgent_case_details", 20)
async def send_due_details(services: Services, sessions, now) -> int:
    """Scheduled: an urgent case whose reporter has not confirmed within 15 minutes."""
    sent = 0
    async with job_step(services, sessions, now) as out:
        stmt = select(Case).where(Case.details_due_at <= now, Case.details_sent_at.is_(None)).limit(50)
        stmt = claim_rows(out.session, stmt)
        for case in (await out.session.scalars(stmt)).all():
            await send_details(out, case)
            sent += 1
    return sent
