"""/xuat, built apart from the step that asked for it (storage/exports.py keeps the requests).

The step answers at once ("preparing the files…"). This job then, per request: reads the figures
in one short transaction, builds the workbook, the CSV and the report form on the file thread with
no transaction open (a province's workbook takes a while, and on SQLite an open write transaction
would hold every other writer, the urgent path included), and in a last short transaction writes
the audit line, the links, and queues the files to the chat the request came from. The rights are
checked again at each transaction: a person whose role was taken away meanwhile gets nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.i18n import number, official_day
from handlers.context import Ctx, Services
from handlers.office import files, form_pdf, links
from handlers.office.commands import province_view
from handlers.permissions import refuse
from handlers.registry import COMMANDS, job, may_use
from storage import exports, stats
from storage.cases import audit
from storage.db import reading
from storage.people import load_profile

log = logging.getLogger(__name__)

PER_RUN = 3  # requests built in one run of the job; the rest wait for the next (a few seconds)


@dataclass
class Gathered:
    """What the files are made of, read in one transaction."""

    province: bool
    communes: tuple
    rows: list
    names: dict
    others: dict
    figures: object = None
    case_rows: list | None = None
    summary: list | None = None


@dataclass
class Made:
    book: bytes
    table: bytes
    pdf: bytes | None = None


@job("exports", 0)
async def build_exports(services: Services, sessions, now) -> int:
    async with reading(sessions)() as session, session.begin():  # every tick: on SQLite, no write lock to look
        if not await exports.any_waiting(session, now):
            return 0
    built = 0
    for _ in range(PER_RUN):
        async with sessions() as session, session.begin():
            request = await exports.claim_next(session, services.keyring, now)
        if request is None:
            break
        built += await _build(services, sessions, request, now)
    return built


def _allowed(person) -> bool:
    return person is not None and person.active and may_use(person.roles, COMMANDS["xuat"])


async def _ctx(services: Services, session, request: exports.Request, now, *, writing: bool = True) -> Ctx | None:
    """The asker's context, their rights checked again; None if gone (and, `writing`, the refusal
    queued and the request ended)."""
    person = await load_profile(session, request.person_id)
    ctx = Ctx(services=services, session=session, event=request.event, person=person,
              lang=person.lang if person else "vi", at=now)
    if _allowed(person):
        return ctx
    if not writing:
        return None
    if person is not None:
        refuse(ctx, "/xuat")
        await ctx.send_queued()
    await exports.finish(session, request.id, ctx.now, error="no longer allowed")
    return None


async def _build(services: Services, sessions, request: exports.Request, now) -> int:
    try:
        async with reading(sessions)() as session, session.begin():  # on SQLite: no write lock while it reads
            ctx = await _ctx(services, session, request, now, writing=False)
            if ctx is not None:
                data = await gather(ctx, request.period)
                wants_pdf = (data.figures is not None and not ctx.caps.takes(files.XLSX)
                             and ctx.caps.takes(form_pdf.PDF))
        if ctx is None:  # no longer allowed: the refusal, and the request ended
            async with sessions() as session, session.begin():
                await _ctx(services, session, request, now)
            return 1
        made = await make(ctx.lang, data, ctx.commune, ctx.now, pdf=wants_pdf)
        async with sessions() as session, session.begin():
            ctx = await _ctx(services, session, request, now)
            if ctx is None or not await exports.finish(session, request.id, ctx.now):
                return 1
            await deliver(ctx, request.period, data, made)
            await ctx.send_queued()
        return 1
    except Exception as exc:  # noqa: BLE001 - one failed export must not stop the others
        log.exception("export request %s failed (attempt %s)", request.id, request.attempts)
        async with sessions() as session, session.begin():
            if request.attempts < exports.MAX_ATTEMPTS:
                await exports.release(session, request.id, type(exc).__name__, now)
                return 0
            person = await load_profile(session, request.person_id)
            ctx = Ctx(services=services, session=session, event=request.event, person=person,
                      lang=person.lang if person else "vi", at=now)
            if await exports.finish(session, request.id, ctx.now, error=type(exc).__name__):
                ctx.say(ctx.t("Sorry, the files could not be made. Please send /xuat again later."))
                await ctx.send_queued()
        return 1


async def gather(ctx: Ctx, period: stats.Period) -> Gathered:
    province = province_view(ctx)
    communes = ctx.config.communes if province else (ctx.commune,)
    ids = [c.id for c in communes]
    data = Gathered(
        province=province, communes=communes,
        rows=await stats.report_rows(ctx.session, ids, period.start, period.end),
        names={(c.id, v.id): v.name for c in communes for v in c.villages},
        others=await files.other_answers(ctx.session, ids, period.start, period.end),
    )
    if province:
        per = await stats.province_rows(ctx.session, communes, period, now=ctx.now)
        data.summary = [(c.name, r.outreach, r.new_cases, r.open_cases) for c, r in zip(communes, per, strict=True)]
    else:
        data.figures = await stats.figures(ctx.session, ctx.commune, period, now=ctx.now)
        if ctx.person.has("office"):
            since, until = period.utc_bounds(ctx.commune.tz)
            data.case_rows = await stats.consented_case_rows(ctx.session, ctx.commune.id, since, until)
    return data


async def make(lang: str, data: Gathered, commune, now, *, pdf: bool) -> Made:
    """The files, on the file thread (handlers/office/files.py built)."""
    book = await files.built(files.workbook, lang, data.rows, data.names, figures=data.figures,
                             case_rows=data.case_rows, commune_names={c.id: c.name for c in data.communes},
                             extra_summary=data.summary, commune=None if data.province else commune,
                             others=data.others, now=now)
    table = await files.built(files.report_csv, lang, data.rows, data.names, others=data.others)
    form = await files.built(form_pdf.report_form_pdf, lang, data.figures, commune, now=now) if pdf else None
    return Made(book, table, form)


async def deliver(ctx: Ctx, period: stats.Period, data: Gathered, made: Made) -> None:
    audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="export", now=ctx.now,
          detail=f"{period.start.isoformat()}..{period.end.isoformat()} reports={len(data.rows)} "
                 f"case_rows={len(data.case_rows or [])}")
    stem = f"so-lieu-{period.start.isoformat()}-{period.end.isoformat()}"
    caption = ctx.t("Export {start} – {end}: {n} outreach reports", start=official_day(period.start),
                    end=official_day(period.end), n=number(ctx.lang, len(data.rows)))
    if ctx.today < period.end:  # a period not over: its figures are those of today
        caption += " (" + ctx.t("so far, up to {date}", date=official_day(ctx.today)) + ")"
    if data.case_rows is not None:
        caption += "\n" + ctx.t("Case rows: {n} (only cases whose person subjected agreed to sharing; no free text)",
                                n=number(ctx.lang, len(data.case_rows)))
    if ctx.caps.takes(files.XLSX):  # else (the terminal, Zalo) a signed link
        ctx.say(caption, file=(stem + ".xlsx", made.book))
        ctx.say("", file=(stem + ".csv", made.table))
        return
    commune_id = None if data.province else ctx.commune.id
    book_link = await links.link(ctx.session, ctx.services, commune_id=commune_id, name=stem + ".xlsx",
                                 mime=files.XLSX, data=made.book, now=ctx.now)
    csv_link = await links.link(ctx.session, ctx.services, commune_id=commune_id, name=stem + ".csv",
                                mime="text/csv; charset=utf-8", data=made.table, now=ctx.now)
    ctx.say(caption + "\n" + ctx.t("Excel: {xlsx}\nCSV: {csv}\n(The links work for {days} days.)", xlsx=book_link,
                                   csv=csv_link, days=ctx.config.digest.link_days))
    if made.pdf is not None:  # a Zalo OA: the form to sign, in the chat too
        pdf_link = await links.link(ctx.session, ctx.services, commune_id=commune_id, name=stem + ".pdf",
                                    mime=form_pdf.PDF, data=made.pdf, now=ctx.now)
        ctx.say("", file=(stem + ".pdf", made.pdf), url=pdf_link,
                instead=ctx.t("Report form (PDF): {url}", url=pdf_link) + "\n"
                + ctx.t("(The link works for {days} days.)", days=ctx.config.digest.link_days))
