"""The figures commands of the office, leaders and province officers: /tuan, /thang, /thon,
/chuabaocao, /bantin and /xuat. Province officers see every commune side by side, never a case."""

from __future__ import annotations

from core.events import Choice
from core.i18n import N_, number, official_day
from handlers import parsing
from handlers.context import Ctx
from handlers.office import cases, people, periods, render
from handlers.registry import Press, button, command
from storage import exports as export_requests
from storage import stats
from storage.models import DigestSubscription, Report


def province_view(ctx: Ctx) -> bool:
    return ctx.person.commune_id is None or not ctx.person.has("office", "leader")


async def show_figures(ctx: Ctx, period: stats.Period) -> None:
    if province_view(ctx):
        async with ctx.reading() as session:
            rows = await stats.province_rows(session, ctx.config.communes, period, now=ctx.now)
        ctx.say(render.province_text(ctx.lang, period, rows, {c.id: c.name for c in ctx.config.communes},
                                     computed_at=ctx.now.astimezone(ctx.config.communes[0].tz)))
        return
    async with ctx.reading() as session:
        text = await commune_text(session, ctx.config, ctx.commune, period, now=ctx.now, lang=ctx.lang)
    ctx.say(text)


async def commune_text(session, config, commune, period: stats.Period, *, now, lang: str) -> str:
    """What /tuan and /thang print for one commune, and `python -m bot figures` (bot/report_cli.py)."""
    figures = await stats.figures(session, commune, period, now=now)
    return render.digest_text(lang, figures, commune.name, today=now.astimezone(commune.tz).date(),
                              targets=config.targets)


PERIOD_EXAMPLES = N_("Examples: {command}, {command} truoc, {command} 2026-W47, {command} 11/2026, "
                     "{command} quy 2, {command} 6 thang, {command} 6 thang cuoi nam, {command} nam 2026, "
                     "{command} 01/11/2026-15/11/2026")


def read_period(ctx: Ctx, command_: str, arg: str, default: str) -> stats.Period | None:
    """The period typed after a command, or None once the person has been told why not."""
    period = periods.parse(arg, ctx.today, default=default, reporting_start=ctx.config.reporting_start)
    if period is None:
        ctx.say(ctx.t("I could not read “{text}” as a period.", text=parsing.quotable(arg)) + " "
                + ctx.t(PERIOD_EXAMPLES, command="/" + command_))
        return None
    if periods.not_started(period, ctx.today):
        ctx.say(ctx.t("The period {start} – {end} has not started yet: there are no figures for it.",
                      start=official_day(period.start), end=official_day(period.end)))
        return None
    return period


@command("tuan", N_("Figures of a week (or any period): /tuan, /tuan 2026-W47"), order=40)
async def week_figures(ctx: Ctx, arg: str) -> None:
    if (period := read_period(ctx, "tuan", arg, "week")) is not None:
        await show_figures(ctx, period)


@command("thang", N_("Figures of a month (or any period): /thang 11/2026, /thang quy 2, /thang nam 2026"), order=41)
async def month_figures(ctx: Ctx, arg: str) -> None:
    if (period := read_period(ctx, "thang", arg, "month")) is not None:
        await show_figures(ctx, period)


def _village_candidates(ctx: Ctx) -> list[tuple]:
    communes = ctx.config.communes if province_view(ctx) else (ctx.commune,)
    return [(c, v) for c in communes for v in c.villages]


async def _village_answer(ctx: Ctx, commune, village) -> str:
    """Outreach only: case figures never appear per village (a village's count can name a family)."""
    async with ctx.reading() as session:
        o, _ = await stats.village_year(session, commune, village.id, ctx.today)
    return ctx.t("{village}, {commune}, year {year}: {sessions} sessions, {total} attendances, of which {women}",
                 village=village.name, commune=commune.place, year=ctx.today.year,
                 sessions=number(ctx.lang, o.sessions), total=number(ctx.lang, o.total),
                 women=render.Words(ctx.lang).women(o))


@command("thon", N_("One village this year: /thon NAME"), order=42)
async def village_figures(ctx: Ctx, arg: str) -> None:
    candidates = _village_candidates(ctx)
    exact = [(c, v) for c, v in candidates if parsing.fold(v.name) == parsing.fold(arg)] if arg else []
    if not exact and arg:
        hit = parsing.parse_choices(arg, [v.name for _, v in candidates], multi=False)
        exact = [candidates[hit[0]]] if hit else []
    if exact:
        moment = ctx.now.astimezone(exact[0][0].tz)
        ctx.say("\n".join([await _village_answer(ctx, c, v) for c, v in exact] + [render.as_of(ctx.lang, moment)]))
        return
    if arg:
        ctx.say(ctx.t("No village is called “{text}”.", text=parsing.quotable(arg)))
    if len(candidates) <= 60:
        ctx.say(ctx.t("Which village?"), [Choice(v.name, f"o:v:{c.id}:{v.id}") for c, v in candidates], columns=3)
    else:
        ctx.say(ctx.t("Type the village's name after the command, e.g. /thon Thôn 3."))


@command("chuabaocao", N_("Villages that have not reported this week"), order=43)
async def not_reported(ctx: Ctx, arg: str) -> None:
    """This week, or the period typed after it (/chuabaocao truoc, /chuabaocao 2026-W47)."""
    if (period := read_period(ctx, "chuabaocao", arg, "week")) is None:
        return
    communes = ctx.config.communes if province_view(ctx) else (ctx.commune,)
    async with ctx.reading() as session:
        done = await stats.outreach_by(session, [c.id for c in communes], period.start, period.end, Report.village_id)
    head = (ctx.t("Week {week} ({span}):", week=render.week_label(period.week_key), span=render.span(period))
            if period.kind == "week" else render.span(period) + ":")
    lines = [head, render.as_of(ctx.lang, ctx.now.astimezone(communes[0].tz))]
    for commune in communes:
        missing = [v.name for v in commune.villages if (commune.id, v.id) not in done]
        reported = len(commune.villages) - len(missing)
        line = ctx.t("{commune}: {reported}/{villages} villages have reported.", commune=commune.name,
                     reported=reported, villages=len(commune.villages))
        if missing:
            line += " " + ctx.t("Not yet reported: {list}", list=", ".join(missing))
        lines.append(line)
    ctx.say("\n".join(lines))


@command("bantin", N_("Weekly digest: subscribe / unsubscribe"), order=44)
async def subscribe(ctx: Ctx, arg: str) -> None:
    row = await ctx.session.get(DigestSubscription, ctx.person.id)
    by_role = ctx.person.has("office", "leader") and ctx.person.commune_id is not None
    now_on = row.subscribed if row is not None else by_role
    if row is None:
        row = DigestSubscription(person_id=ctx.person.id, subscribed=now_on, updated_at=ctx.now)
        ctx.session.add(row)
    row.subscribed, row.updated_at = not now_on, ctx.now
    at = ctx.config.digest.at
    from handlers.office.reminders import WEEKDAY_NAMES

    if row.subscribed:
        ctx.say(ctx.t("You will receive the weekly digest every {day} at {time}. Send /bantin again to stop.",
                      day=ctx.t(WEEKDAY_NAMES[at.weekday]), time=f"{at.hour:02d}:{at.minute:02d}"))
    else:
        ctx.say(ctx.t("You will no longer receive the weekly digest. Send /bantin again to receive it."))


@command("xuat", N_("Export a period to Excel: /xuat 11/2026"), order=45)
async def export(ctx: Ctx, arg: str) -> None:
    """Asked for here, built apart (handlers/office/exports.py): the answer comes at once, the files
    when they are made, and no step holds the database while a workbook is written."""
    period = read_period(ctx, "xuat", arg, "month")
    if period is None:
        return
    export_requests.ask(ctx.session, ctx.services.keyring, person_id=ctx.person.id, event=ctx.event, period=period,
                        now=ctx.now)
    ctx.wake_jobs()
    ctx.say(ctx.t("Preparing the files for {start} – {end}… They will be sent here as soon as they are ready.",
                  start=official_day(period.start), end=official_day(period.end)))


async def _village_pressed(ctx: Ctx, parts: list[str]) -> None:
    """o:v:<commune>:<village>, from /thon."""
    allowed = {c.id: c for c, _ in _village_candidates(ctx)}
    commune = allowed.get(parts[0]) if len(parts) == 2 else None
    village = commune.village(parts[1]) if commune else None
    if village is None:
        ctx.say(ctx.t("That button is not valid here."))
        return
    ctx.say(await _village_answer(ctx, commune, village) + "\n" + render.as_of(ctx.lang, ctx.now.astimezone(commune.tz)))


# Every sub-action of "o:…" and the command whose rights a press needs (handlers/permissions.py);
# the case and people buttons live in their own modules.
SUB_ACTIONS = {"v": ("thon", _village_pressed), **cases.ACTIONS, **people.ACTIONS}


@button("o", actions={action: name for action, (name, _) in SUB_ACTIONS.items()})
async def office_pressed(ctx: Ctx, press: Press) -> None:
    """Only the sub-actions above reach here, each checked by the dispatcher against its command."""
    _, run = SUB_ACTIONS[press.action]
    await run(ctx, list(press.parts[1:]))
