"""Friday reminders: a reporter whose village has no outreach report dated this week is nudged once.

They go out on the configured day, from the configured time to the end of that day; a row per
(person, week) makes sure nobody is nudged twice, even with two processes. The office switches
them off and on for its commune with /nhacnho.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from core.events import Choice, Reply
from core.i18n import N_, translate
from handlers.context import Ctx, Outgoing, job_step
from handlers.registry import command, job
from storage import stats
from storage.db import upsert_insert
from storage.models import CommuneSetting, Person, PersonRole, PersonVillage, ReminderSent, Report


async def reminders_on(session, commune_id: str) -> bool:
    row = await session.get(CommuneSetting, commune_id)
    return True if row is None else row.reminders_on


async def _nudge(out: Outgoing, commune, week: stats.Period) -> int:
    session, now = out.session, out.now
    reported = set((await session.scalars(
        select(Report.village_id).where(Report.commune_id == commune.id, Report.superseded_at.is_(None),
                                        Report.held_on >= week.start, Report.held_on <= week.end).distinct()
    )).all())
    done = set((await session.scalars(select(ReminderSent.person_id).where(ReminderSent.week == week.week_key))).all())
    rows = (await session.execute(
        select(Person.id, PersonVillage.village_id)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .join(PersonVillage, PersonVillage.person_id == Person.id)
        .where(Person.commune_id == commune.id, Person.active.is_(True), PersonRole.role == "reporter")
    )).all()
    missing: dict[int, list[str]] = {}
    for person_id, village_id in rows:
        if village_id not in reported and person_id not in done:
            missing.setdefault(person_id, []).append(village_id)
    insert = upsert_insert(session)
    sent = 0
    for person_id, village_ids in sorted(missing.items()):
        result = await session.execute(
            insert(ReminderSent).values(person_id=person_id, week=week.week_key, sent_at=now)
            .on_conflict_do_nothing(index_elements=["person_id", "week"])
        )
        if not result.rowcount:
            continue
        person = await session.get(Person, person_id)
        names = ", ".join(v.name for v in commune.villages if v.id in village_ids)
        text = translate(person.lang, "Hello {name}! This week there is no outreach report yet for {villages}. If a "
                         "session was held, you can report it now — it takes two minutes.",
                         name=person.name or "", villages=names)
        label = translate(person.lang, "Report an outreach session")
        reply = Reply(text=text, choices=(Choice(label, "m:baocao", control=True, keyword="/baocao"),))
        if await out.reachable(person_id):
            out.push(person_id, reply, kind="reminder")
            sent += 1
    return sent


@job("outreach_reminders", 60)
async def send_reminders(services, sessions, now: datetime) -> int:
    at = services.config.reminders
    sent = 0
    for commune in services.config.communes:
        local = now.astimezone(commune.tz)
        week = stats.week_of(local.date())
        start = datetime.combine(week.start + timedelta(days=at.weekday), time(at.hour, at.minute), commune.tz)
        if not start <= local < datetime.combine(start.date() + timedelta(days=1), time(0), commune.tz):
            continue
        async with job_step(services, sessions, now) as out:
            if await reminders_on(out.session, commune.id):
                sent += await _nudge(out, commune, week)
    return sent


@command("nhacnho", N_("Weekly reminders on / off"), order=70)
async def toggle_reminders(ctx: Ctx, arg: str) -> None:
    commune_id = ctx.person.commune_id
    if commune_id is None:
        ctx.say(ctx.t("This command is not available for your role."))
        return
    row = await ctx.session.get(CommuneSetting, commune_id)
    if row is None:
        row = CommuneSetting(commune_id=commune_id, reminders_on=True, updated_at=ctx.now)
        ctx.session.add(row)
    row.reminders_on = not row.reminders_on
    row.updated_by, row.updated_at = ctx.person.id, ctx.now
    at = ctx.config.reminders
    if row.reminders_on:
        ctx.say(ctx.t("Reminders are on: every week on {day} at {time}, reporters whose village has not reported "
                      "get a friendly reminder. Send /nhacnho again to switch them off.",
                      day=ctx.t(WEEKDAY_NAMES[at.weekday]), time=f"{at.hour:02d}:{at.minute:02d}"))
    else:
        ctx.say(ctx.t("Reminders are off. Send /nhacnho again to switch them on."))


WEEKDAY_NAMES = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
                 N_("Sunday"))
