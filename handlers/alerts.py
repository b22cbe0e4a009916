"""Alerts about cases: the urgent one at once, the coded details after. Never free text."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.events import Reply
from bot.i18n import day, translate
from handlers.context import Ctx, Services
from handlers.registry import job
from storage import cases as store
from storage.models import Alert, Case, Person


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


async def _reporter_line(session: AsyncSession, lang: str, case: Case) -> str:
    reporter = await session.get(Person, case.reporter_id)
    phone = reporter.phone if reporter and reporter.phone else translate(lang, "no phone on file")
    return translate(lang, "Reported by: {name}, phone {phone}", name=reporter.name if reporter else "?", phone=phone)


async def send_urgent(ctx: Ctx, case: Case) -> None:
    """Police, leaders and the office of the commune, on every channel each of them has."""
    session, services = ctx.session, ctx.services
    profile = ctx.person
    commune = ctx.commune
    villages = [v.name for v in commune.villages if v.id in profile.villages] or [commune.name]
    targets = await store.recipients(session, case, with_police=True)
    for person_id, role in targets:
        person = await session.get(Person, person_id)
        lang = person.lang
        text = "\n".join([
            translate(lang, "🔴 URGENT — case {ref}", ref=case.ref),
            await _reporter_line(session, lang, case),
            translate(lang, "Village(s): {villages} (from the reporter's profile)", villages=", ".join(villages)),
            translate(lang, "Someone may be in immediate danger. Please contact the reporter now."),
        ])
        await outbox.queue_to_every_channel(session, services.keyring, person_id, Reply(text=text), now=ctx.now)
        session.add(Alert(case_id=case.id, kind="urgent", recipient_id=person_id, role=role, created_at=ctx.now))


async def send_details(session: AsyncSession, services: Services, case: Case, *, now) -> int:
    """The coded details to leaders and the office, and to the police where the case is routed."""
    targets = await store.recipients(session, case, with_police=case.police_routed)
    codes = await store.codes_of(session, case.id)
    people = await store.people_of(session, case.id)
    commune = services.config.commune(case.commune_id)
    for person_id, role in targets:
        person = await session.get(Person, person_id)
        text = coded_summary(person.lang, case, codes, people, commune) + "\n" + await _reporter_line(
            session, person.lang, case)
        await outbox.queue_to_every_channel(session, services.keyring, person_id, Reply(text=text), now=now)
        session.add(Alert(case_id=case.id, kind="details", recipient_id=person_id, role=role, created_at=now))
    case.details_sent_at = now
    return len(targets)


def _labels(lang: str, options, codes) -> str:
    names = {o.code: translate(lang, o.label) for o in options}
    return ", ".join(names.get(c, c) for c in codes) or "—"


def coded_summary(lang: str, case: Case, codes: dict, people: list, commune) -> str:
    from handlers.forms import case as form

    t = lambda msgid, **kw: translate(lang, msgid, **kw)  # noqa: E731
    village = commune.village(case.village_id).name if commune and case.village_id and commune.village(case.village_id) else "—"
    head = t("🔴 URGENT — case {ref}", ref=case.ref) if case.urgent else t("Case {ref}", ref=case.ref)
    lines = [
        head + " · " + t("coded details"),
        t("Village: {village} · Date: {date}", village=village, date=day(case.occurred_on) if case.occurred_on else "—"),
        t("Kind: {kind}", kind=_labels(lang, form.KINDS, [case.kind] if case.kind else [])),
        t("Forms of violence: {forms}", forms=_labels(lang, form.FORMS_OF_VIOLENCE, codes.get("forms", []))),
    ]
    for p in people:
        lines.append(t("Person subjected {n}: {sex}, {age}", n=p.position,
                       sex=_labels(lang, form.SEXES, [p.sex] if p.sex else []),
                       age=_labels(lang, form.SUBJECTED_AGES, [p.age_group] if p.age_group else [])))
    lines.append(t("Person who committed it: {sex}, {age}, {relationship}",
                   sex=_labels(lang, form.SEXES, [case.perpetrator_sex] if case.perpetrator_sex else []),
                   age=_labels(lang, form.PERPETRATOR_AGES, [case.perpetrator_age] if case.perpetrator_age else []),
                   relationship=_labels(lang, form.RELATIONSHIPS, [case.relationship] if case.relationship else [])))
    lines.append(t("Measures applied: {measures}", measures=_labels(lang, form.MEASURES, codes.get("measures", []))))
    lines.append(t("Support received: {support}", support=_labels(lang, form.SUPPORT, codes.get("support", []))))
    lines.append(t("Consent to share: {consent}", consent=_labels(lang, form.CONSENT, [case.consent] if case.consent else [])))
    return "\n".join(lines)


@job("urgent_case_details", 20)
async def send_due_details(services: Services, sessions, now) -> int:
    """Scheduled: an urgent case whose reporter has not confirmed within 15 minutes."""
    from sqlalchemy import select

    sent = 0
    async with sessions() as session, session.begin():
        stmt = select(Case).where(Case.details_due_at <= now, Case.details_sent_at.is_(None)).limit(50)
        if session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        for case in (await session.scalars(stmt)).all():
            await send_details(session, services, case, now=now)
            sent += 1
    return sent


