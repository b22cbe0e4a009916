"""/cuatoi: a person's recent reports and cases; correcting a report, adding to a case."""

from __future__ import annotations

from datetime import timedelta

from core.events import Choice
from core.i18n import N_, day, number
from handlers import parsing
from handlers.context import Ctx
from handlers.forms import engine
from handlers.forms.followup import FOLLOW_UP
from handlers.forms.outreach import OUTREACH, answers_of
from storage.cases import STATUSES, case_by_ref, cases_reported_by
from storage.photos import photo_ids_of
from storage.reports import current_report, first_version_date, recent_reports

STATUS_NAMES = dict(zip(STATUSES, (
    N_("Newly received"), N_("Being verified"), N_("Confirmed as domestic violence"), N_("Not domestic violence"),
    N_("Being handled"), N_("Handled"), N_("Under follow-up"), N_("Closed"),
), strict=True))


async def list_reports(ctx: Ctx) -> None:
    reports = await recent_reports(ctx.session, ctx.person.id)
    cases = await cases_reported_by(ctx.session, ctx.person.id)
    if not reports and not cases:
        ctx.say(ctx.t("You have not sent any reports yet. Use /baocao to report an outreach session."))
        return
    # One message: on a channel without buttons its actions are numbered once, 1, 2, 3…, not twice from 1.
    lines, buttons = _list_cases(ctx, cases) if cases else ([], [])
    if reports:
        more_lines, more_buttons = await _list_reports(ctx, reports)
        lines += ([""] if lines else []) + more_lines
        buttons += more_buttons
    ctx.say("\n".join(lines), buttons)


def _list_cases(ctx: Ctx, cases) -> tuple[list[str], list[Choice]]:
    lines = [ctx.t("Your case reports:")]
    buttons = []
    for case in cases:
        lines.append(ctx.t("{ref}: {status}", ref=case.ref, status=ctx.t(STATUS_NAMES.get(case.status, case.status))))
        buttons.append(Choice(ctx.t("Add information to {ref}", ref=case.ref), f"h:{case.ref}",
                              control=True, keyword=f"/cuatoi {case.ref}"))
    return lines, buttons


async def follow_up(ctx: Ctx, ref: str) -> None:
    case = await case_by_ref(ctx.session, ctx.person.commune_id, ref)
    if case is None or case.reporter_id != ctx.person.id:
        ctx.say(ctx.t("No case of yours has the reference {ref}.", ref=parsing.quotable(ref, 20)))
        return
    await engine.start(ctx, FOLLOW_UP, meta={"case_id": case.id})


async def _list_reports(ctx: Ctx, reports) -> tuple[list[str], list[Choice]]:
    commune = ctx.commune
    lines = [ctx.t("Your recent reports:")]
    buttons = []
    limit = timedelta(days=ctx.config.forms.correction_days)
    for r in reports:
        village = commune.village(r.village_id).name if r.village_id and commune.village(r.village_id) else ctx.t("Whole commune / several villages")
        lines.append(
            ctx.t("{ref}: {village}, {date}, {n} attendances", ref=r.ref, village=village,
                  date=day(r.held_on), n=number(ctx.lang, r.attendees_total))
        )
        first = await first_version_date(ctx.session, r.ref, r.commune_id)
        if first and ctx.now - first <= limit:
            buttons.append(Choice(ctx.t("Correct {ref}", ref=r.ref), f"r:{r.ref}", control=True,
                                  keyword=f"/cuatoi {r.ref}"))
    if buttons:
        lines.append(ctx.t("Reports sent in the last {days} days can be corrected.", days=ctx.config.forms.correction_days))
    return lines, buttons


async def correct(ctx: Ctx, ref: str) -> None:
    ref = ref.strip().upper()
    report = await current_report(ctx.session, ref, ctx.person.commune_id or "")
    if report is None or report.person_id != ctx.person.id:
        ctx.say(ctx.t("No report of yours has the reference {ref}.", ref=parsing.quotable(ref, 20)))
        return
    first = await first_version_date(ctx.session, ref, report.commune_id)
    if first is None or ctx.now - first > timedelta(days=ctx.config.forms.correction_days):
        ctx.say(ctx.t("Report {ref} is older than {days} days and can no longer be corrected here. Please tell the office.",
                      ref=ref, days=ctx.config.forms.correction_days))
        return
    answers = await answers_of(ctx, report, await photo_ids_of(ctx.session, report.id))
    answers["_corrects"] = report.ref  # a hidden answer: what cancelling leaves as it was
    await engine.start(ctx, OUTREACH, answers=answers, meta={"corrects": report.id})
