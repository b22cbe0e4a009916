"""The digest's files: an Excel workbook (XlsxWriter), a CSV of the same rows and a chart (matplotlib).

The workbook opens on an official statistics form (handlers/office/forms/: heading, numbered rows
with units, a fixed layout, totals as formulas that carry their values, A4 print setup and a
signature block), then analysable data sheets: one row per report, one 0/1 column per topic,
Vietnamese labels for every coded answer, numbers as numbers and dates as dates. Case sheets hold
aggregates and, in the office's own exports only, coded rows of cases whose person subjected agreed.

XlsxWriter writes every formula with its value, so a phone's preview (which does not calculate)
shows the figures, and streams row by row (constant_memory), which also serves the province export.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from core.i18n import N_, official_day, translate
from handlers.forms import outreach as outreach_form
from handlers.menu import ORG_NAMES
from handlers.office import report_form
from handlers.office.forms import FORM
from handlers.office.render import (
    CAMPAIGN_LABELS,
    CAMPAIGN_NAMES,
    FORM_LABELS,
    FORMAT_LABELS,
    KIND_LABELS,
    KIND_WORDS,
    TOPIC_LABELS,
    WHOLE_COMMUNE_LABEL,
    Words,
)
from storage.models import Report
from storage.stats import CaseRow, Figures, OrgFigures, Outreach, ReportRow

# Files (workbooks, charts, PDFs) are built on this one thread, never on the event loop: a
# province's workbook takes seconds, and the urgent path must not wait behind it. One thread:
# the chart library's state is not shared between threads.
_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="files")


async def built(fn, /, *args, **kwargs):
    """`fn(*args, **kwargs)` on the file-building thread."""
    return await asyncio.get_running_loop().run_in_executor(_BUILDER, lambda: fn(*args, **kwargs))

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "DD/MM/YYYY"
# Whole numbers as Vietnamese write them (1.245; 1.234.567) whatever the reader's Excel locale: a number
# format's "," follows the reader's locale, so the dots are literal and the sizes are conditions.
NUMBER_FORMATS = {"vi": "[>=1000000]#\\.###\\.##0;[>=1000]#\\.##0;0", "en": "#,##0"}
PERCENT_FORMAT = "0.0%"
A4 = 9
LANGUAGE_LABELS = {o.code: o.label for o in outreach_form.LANGUAGES}
TOPICS = [o.code for o in outreach_form.TOPICS]
FORMS = list(FORM_LABELS)
COMMITTEE_PREFIXES = ("ubnd ", "ủy ban nhân dân ", "uỷ ban nhân dân ")
PLACE_PREFIXES = ("xã ", "phường ", "thị trấn ", "đặc khu ")


@dataclass(frozen=True)
class Other:
    """The "Khác" descriptions of one outreach report (the reporter's words; never case text)."""

    format_other: str | None
    topic_other: str | None


async def other_answers(session, communes: Sequence[str], start: date, end: date) -> dict[tuple[str, str], Other]:
    """(commune, report reference) → the report's "Khác" descriptions, for the current versions of a period."""
    rows = await session.execute(
        select(Report.commune_id, Report.ref, Report.format_other, Report.topic_other)
        .where(Report.commune_id.in_(list(communes)), Report.superseded_at.is_(None), Report.held_on >= start,
               Report.held_on <= end, (Report.format_other.is_not(None)) | (Report.topic_other.is_not(None)))
    )
    return {(cid, ref): Other(fo, to) for cid, ref, fo, to in rows}


class Book:
    """One workbook and its formats, bound to a language."""

    def __init__(self, lang: str, out) -> None:
        import xlsxwriter

        self.w = Words(lang)
        self.wb = xlsxwriter.Workbook(out, {"constant_memory": True, "default_date_format": DATE_FORMAT})
        add = self.wb.add_format
        base = {"font_name": "Times New Roman", "font_size": 12, "valign": "top"}
        number = NUMBER_FORMATS.get(lang, NUMBER_FORMATS["en"])
        self.text = add({**base, "text_wrap": True, "border": 1})
        self.bold_text = add({**base, "text_wrap": True, "border": 1, "bold": True})
        self.center = add({**base, "text_wrap": True, "border": 1, "align": "center"})
        self.number = add({**base, "border": 1, "num_format": number})
        self.bold_number = add({**base, "border": 1, "num_format": number, "bold": True})
        self.percent = add({**base, "border": 1, "num_format": PERCENT_FORMAT})
        self.date = add({**base, "border": 1, "num_format": DATE_FORMAT, "align": "center"})
        self.header = add({**base, "text_wrap": True, "border": 1, "bold": True, "align": "center",
                           "valign": "vcenter", "bg_color": "#EDEDED"})
        self.title = add({**base, "bold": True, "align": "center", "text_wrap": True, "font_size": 14})
        self.top = add({**base, "bold": True, "align": "center", "text_wrap": True})
        self.plain_center = add({**base, "align": "center", "text_wrap": True})
        self.italic_center = add({**base, "italic": True, "align": "center", "text_wrap": True})
        self.note = add({**base, "italic": True, "text_wrap": True, "font_size": 11})

    def t(self, msgid: str, **params) -> str:
        return self.w.t(msgid, **params) if msgid else ""

    def data_sheet(self, title: str, headers: list[tuple[str, int]]):
        """A sheet of records: a header row that stays on screen and on every printed page, a filter."""
        ws = self.wb.add_worksheet(title[:31])
        for col, (_, width) in enumerate(headers):
            ws.set_column(col, col, width)
        ws.set_row(0, 45)
        for col, (label, _) in enumerate(headers):
            ws.write_string(0, col, label, self.header)
        ws.freeze_panes(1, 0)
        ws.repeat_rows(0)
        ws.set_paper(A4)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        return ws

    def close(self) -> None:
        self.wb.close()


def _place(commune) -> str:
    """The place a document is signed at, Decree 30/2020 style: "Xuân Dương", not "xã Xuân Dương"."""
    place = commune.name
    for prefixes in (COMMITTEE_PREFIXES, PLACE_PREFIXES):
        hit = next((p for p in prefixes if place.lower().startswith(p)), "")
        place = place[len(hit):]
    return place


def signed_on(lang: str, commune, day: date) -> str:
    """"Xuân Dương, ngày 05 tháng 3 năm 2026" (Decree 30/2020: two-digit day; month 01 and 02 only)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return translate(lang, "{place}, day {day} month {month} year {year}", place=_place(commune),
                     day=f"{day.day:02d}", month=month, year=day.year)


def as_of_text(lang: str, moment: datetime) -> str:
    return translate(lang, "Figures as of {time} on {date}", time=f"{moment.hour:02d}:{moment.minute:02d}",
                     date=official_day(moment.date()))


def resolve(rows, values: dict[str, int], ytd_only_blank: bool) -> tuple[dict[int, object], dict[int, str]]:
    """Per row index of one section: the cached value and, for totals and shares, the formula's terms."""
    by_stt = {r.stt: i for i, r in enumerate(rows)}
    children = {i: [j for j, c in enumerate(rows) if c.stt.rsplit(".", 1)[0] == r.stt and "." in c.stt]
                for i, r in enumerate(rows)}
    cache: dict[int, object] = {}

    def value(i: int):
        if i in cache:
            return cache[i]
        r = rows[i]
        if ytd_only_blank and r.ytd_only:
            v = None
        elif r.total:
            v = sum(value(j) or 0 for j in children[i])
        elif r.share:
            part, whole = value(by_stt[r.share[0]]), value(by_stt[r.share[1]])
            v = part / whole if whole else ""
        elif r.key:
            v = int(values.get(r.key, 0))
        else:
            v = None
        cache[i] = v
        return v

    for i in range(len(rows)):
        value(i)
    return cache, {i: children[i] for i in range(len(rows))}


def form_sheet(book: Book, commune, f: Figures, *, now: datetime, form: report_form.Form = FORM,
               small: bool = False) -> None:
    """The official form: heading, numbered rows with units, totals as formulas with their values, A4.

    `small` (a reader outside the commune): in the parts that count cases, 1 and 2 are written "<3",
    totals there as plain numbers (a formula over "<3" is an error), and a share of a small count not at
    all. The subtraction of a shown total and its shown parts is not prevented."""
    t, lang = book.t, book.w.lang
    ws = book.wb.add_worksheet(t(N_("Form {code}"), code=form.code.replace("/", "-"))[:31])
    for col, width in enumerate((7, 58, 11, 14, 14)):
        ws.set_column(col, col, width)
    period = f.period
    moment = getattr(f, "computed_at", None) or now.astimezone(commune.tz)
    ws.merge_range(0, 0, 0, 1, commune.name.upper(), book.top)
    ws.merge_range(0, 2, 0, 4, t(N_("SOCIALIST REPUBLIC OF VIETNAM")), book.top)
    ws.merge_range(1, 0, 1, 1, t(N_("Form {code}"), code=form.code), book.plain_center)
    ws.merge_range(1, 2, 1, 4, t(N_("Independence - Freedom - Happiness")), book.top)
    ws.set_row(3, 36)
    ws.merge_range(3, 0, 3, 4, t(form.title), book.title)
    ws.merge_range(4, 0, 4, 4, t(N_("Period: {start} to {end} (year to date from {ytd})"),
                                 start=official_day(period.start), end=official_day(period.end),
                                 ytd=official_day(period.ytd_start)), book.plain_center)
    ws.merge_range(5, 0, 5, 4, as_of_text(lang, moment), book.italic_center)
    ws.set_row(6, 32)
    ws.merge_range(6, 0, 6, 4, t(N_("Source: {document}"), document=t(form.source)), book.italic_center)
    header = 8
    ws.set_row(header, 45)
    labels = (t(N_("No.")), t(N_("Indicator")), t(N_("Unit")),
              t(N_("This period ({start} – {end})"), start=official_day(period.start), end=official_day(period.end)),
              t(N_("Year to date ({start} – {end})"), start=official_day(period.ytd_start),
                end=official_day(period.end)))
    for col, label in enumerate(labels):
        ws.write_string(header, col, label, book.header)
    now_values, ytd_values = report_form.values(f)
    sections = report_form.sections(form)
    row = header + 1
    for section, rows in sections:
        if section is not None:
            ws.write_string(row, 0, section.stt, book.header)
            ws.merge_range(row, 1, row, 4, t(section.label), book.bold_text)
            row += 1
        first = row
        columns = [resolve(rows, now_values, True), resolve(rows, ytd_values, False)]
        for i, r in enumerate(rows):
            strong = r.total or "." not in r.stt
            ws.write_string(row, 0, r.stt, book.center)
            ws.write_string(row, 1, t(r.label), book.bold_text if strong else book.text)
            ws.write_string(row, 2, t(r.unit) if r.unit != report_form.PERCENT else "%", book.center)
            for col, (values, children) in zip((3, 4), columns, strict=True):
                letter = "DE"[col - 3]
                v = values[i]
                hide = small and section is not None and section.cases
                if hide and r.share and v is not None:
                    parts = [values[k] for k, x in enumerate(rows) if x.stt in r.share]
                    v = "" if any(isinstance(n, int) and 0 < n < 3 for n in parts) else v
                if v is None:
                    ws.write_blank(row, col, None, book.number)
                elif hide and not r.share and 0 < v < 3:
                    ws.write_string(row, col, "<3", book.center)
                elif hide and r.total:
                    ws.write_number(row, col, v, book.bold_number)
                elif r.total:
                    terms = "+".join(f"{letter}{first + j + 1}" for j in children[i]) or "0"
                    ws.write_formula(row, col, f"={terms}", book.bold_number, v)
                elif r.share:
                    by_stt = {x.stt: first + k + 1 for k, x in enumerate(rows)}
                    part, whole = f"{letter}{by_stt[r.share[0]]}", f"{letter}{by_stt[r.share[1]]}"
                    ws.write_formula(row, col, f'=IF({whole}>0,{part}/{whole},"")', book.percent, v)
                else:
                    ws.write_number(row, col, v, book.bold_number if strong else book.number)
            row += 1
    ws.set_row(row, 60)
    ws.merge_range(row, 0, row, 4, t(form.note), book.note)
    row += 2
    ws.merge_range(row, 2, row, 4, signed_on(lang, commune, moment.date()), book.italic_center)
    row += 1
    ws.merge_range(row, 0, row, 1, t(N_("PREPARED BY")), book.top)
    ws.merge_range(row, 2, row, 4, t(N_("HEAD OF THE UNIT")), book.top)
    row += 1
    ws.merge_range(row, 0, row, 1, t(N_("(Signature, full name)")), book.italic_center)
    ws.merge_range(row, 2, row, 4, t(N_("(Signature, seal, full name)")), book.italic_center)
    ws.repeat_rows(header)
    ws.set_paper(A4)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.6, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer(t(N_("&CPage &P of &N")))


def _outreach_headers(book: Book, several: bool) -> list[tuple[str, int]]:
    t = book.t
    heads = [(t(N_("No.")), 6), (t(N_("Reference")), 15)]
    if several:
        heads.append((t(N_("Commune")), 20))
    heads += [(t(N_("Village")), 14), (t(N_("Date held")), 12), (t(N_("Reporting organisation")), 18),
              (t(N_("Format")), 22), (t(N_("Format (other), as described")), 22)]
    heads += [(t(N_("Topic: {topic}"), topic=t(TOPIC_LABELS[code])), 14) for code in TOPICS]
    heads += [(t(N_("Topic (other), as described")), 22), (t(N_("Attendances (total)")), 11), (t(N_("Men")), 9),
              (t(N_("Women")), 9), (t(N_("Attendances counted by sex (base of the share)")), 13),
              (t(N_("Share of women (women / attendances counted by sex)")), 12), (t(N_("Campaign")), 22),
              (t(N_("Language")), 12), (t(N_("Leaflets")), 9), (t(N_("Banners")), 9),
              (t(N_("Loudspeaker minutes")), 11), (t(N_("Young people")), 10), (t(N_("Ethnic minority")), 10)]
    return heads


def _outreach_cells(book: Book, n: int, r: ReportRow, village_names: dict, other: Other | None,
                    commune: str | None) -> list:
    """The cells of one report; a share is (value, formula-or-None) filled in by the writer."""
    t = book.t
    other = other or Other(None, None)
    counted = r.total if r.female is not None and r.male is not None else 0
    cells: list = [n, r.ref]
    if commune is not None:
        cells.append(commune)
    cells += [village_names.get((r.commune_id, r.village_id)) or t(N_("Whole commune / several villages")),
              r.held_on, t(ORG_NAMES.get(r.org or "", "")), t(FORMAT_LABELS.get(r.format, r.format)),
              other.format_other or ""]
    cells += [int(code in r.topics) for code in TOPICS]
    cells += [other.topic_other or "", r.total, r.male, r.female, counted, ("share", r.female, counted),
              t(CAMPAIGN_LABELS.get(r.campaign or "", "")) if r.campaign and r.campaign != "none" else "",
              t(LANGUAGE_LABELS.get(r.language or "", "")), r.leaflets, r.banners, r.loudspeaker_minutes, r.youth,
              r.ethnic_minority]
    return cells


def _write_cells(book: Book, ws, row: int, cells: list) -> None:
    for col, v in enumerate(cells):
        if isinstance(v, tuple) and v and v[0] == "share":
            _, part, whole = v
            value = part / whole if whole and part is not None else ""
            women, base = _col(col - 2), _col(col - 1)
            ws.write_formula(row, col, f'=IF({base}{row + 1}>0,{women}{row + 1}/{base}{row + 1},"")', book.percent,
                             value)
        elif v is None or v == "":
            ws.write_blank(row, col, None, book.text)
        elif isinstance(v, bool):
            ws.write_string(row, col, book.t(N_("Yes")) if v else book.t(N_("No")), book.text)
        elif isinstance(v, (int, float)):
            ws.write_number(row, col, v, book.number)
        elif isinstance(v, datetime):
            ws.write_datetime(row, col, v.replace(tzinfo=None), book.date)
        elif isinstance(v, date):
            ws.write_datetime(row, col, datetime(v.year, v.month, v.day), book.date)
        else:
            ws.write_string(row, col, str(v), book.text)


def _col(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _village_sheet(book: Book, f: Figures) -> None:
    t = book.t
    ws = book.data_sheet(t(N_("By village")), [
        (t(N_("Village")), 16), (t(N_("Sessions")), 10), (t(N_("Attendances (total)")), 12), (t(N_("Men")), 9),
        (t(N_("Women")), 9), (t(N_("Attendances counted by sex (base of the share)")), 13),
        (t(N_("Share of women (women / attendances counted by sex)")), 12), (t(N_("Sessions, year to date")), 11),
        (t(N_("At least 2 sessions this year (QĐ 1790)")), 12)])
    for i, (vid, name) in enumerate(f.villages, 1):
        now, ytd = f.village_period.get(vid, Outreach()), f.village_ytd.get(vid, Outreach())
        _write_cells(book, ws, i, [name, now.sessions, now.total, now.male, now.female, now.counted,
                                   ("share", now.female, now.counted), ytd.sessions, ytd.sessions >= 2])
    rows = len(f.villages)
    if f.commune_wide.sessions or f.commune_wide_ytd.sessions:  # so the rows add up to the commune's total
        now, ytd = f.commune_wide, f.commune_wide_ytd
        rows += 1
        _write_cells(book, ws, rows, [t(WHOLE_COMMUNE_LABEL), now.sessions, now.total, now.male, now.female,
                                      now.counted, ("share", now.female, now.counted), ytd.sessions, ""])
    ws.autofilter(0, 0, max(1, rows), 8)


def _org_sheet(book: Book, f: Figures) -> None:
    """Completeness and outreach per organisation (every organisation, zeros too)."""
    t = book.t
    ws = book.data_sheet(t(N_("By organisation")), [
        (t(N_("Organisation")), 24), (t(N_("Reporters enrolled")), 11), (t(N_("Reporters who reported")), 11),
        (t(N_("Sessions")), 10), (t(N_("Attendances (total)")), 12), (t(N_("Women")), 9),
        (t(N_("Attendances counted by sex (base of the share)")), 13),
        (t(N_("Share of women (women / attendances counted by sex)")), 12)])
    codes = list(ORG_NAMES) + [o for o in f.by_org if o not in ORG_NAMES]
    for i, org in enumerate(codes, 1):
        g = f.by_org.get(org) or OrgFigures(org)
        o = g.outreach
        _write_cells(book, ws, i, [t(ORG_NAMES.get(org, org)), g.reporters, g.reporting, o.sessions, o.total,
                                   o.female, o.counted, ("share", o.female, o.counted)])
    ws.autofilter(0, 0, len(codes), 7)


def _campaign_sheet(book: Book, f: Figures) -> None:
    """Every campaign of the period with its own totals: those marked as part of it, and every
    session held in its days."""
    t = book.t
    ws = book.data_sheet(t(N_("Campaigns")), [
        (t(N_("Campaign")), 34), (t(N_("First day")), 11), (t(N_("Last day")), 11), (t(N_("Figures up to")), 11),
        (t(N_("Over")), 8), (t(N_("Sessions marked as part of it")), 12),
        (t(N_("Attendances at the sessions marked")), 12), (t(N_("Sessions held in those days")), 12),
        (t(N_("Attendances at the sessions held in those days")), 12)])
    for i, c in enumerate(f.campaigns, 1):
        _write_cells(book, ws, i, [t(CAMPAIGN_NAMES[c.code]), c.start, c.end, c.upto, c.closed, c.tagged.sessions,
                                   c.tagged.total, c.held.sessions, c.held.total])


def _closed_year_sheet(book: Book, f: Figures) -> None:
    """A week crossing 31/12: the final totals of the year it closes, as the digest gives them."""
    y, t = f.closed_year, book.t
    ws = book.data_sheet(t(N_("Year {year}"), year=y.year), [(t(N_("Indicator")), 60), (t(N_("Unit")), 12),
                                                             (t(N_("Final totals, status at 31/12")), 14)])
    o = y.outreach
    rows = [(N_("Outreach sessions"), N_("Sessions (unit)"), o.sessions),
            (N_("Attendances at the sessions"), N_("Attendances (unit)"), o.total),
            (N_("Counted by sex"), N_("Attendances (unit)"), o.counted),
            (N_("Male"), N_("Attendances (unit)"), o.male), (N_("Female"), N_("Attendances (unit)"), o.female),
            (N_("Not counted by sex"), N_("Attendances (unit)"), o.total - o.counted)]
    for kind, flow in y.flows.items():
        words = KIND_WORDS[kind]
        rows += [(words.title, "", None), (N_("Cases received"), N_("Cases (unit)"), flow.received),
                 (N_("Still being verified at the end of the period"), N_("Cases (unit)"), flow.verifying),
                 (words.confirmed, N_("Cases (unit)"), flow.ever_confirmed),  # since handled too
                 (N_("Cases handled"), N_("Cases (unit)"), flow.handled),
                 (words.not_of_kind, N_("Cases (unit)"), flow.not_of_kind)]
    for i, (label, unit, value) in enumerate(rows, 1):
        _write_cells(book, ws, i, [t(label), t(unit) if unit else "", value])


def _case_sheet(book: Book, case_rows: list[CaseRow], village_names: dict) -> None:
    from handlers.myreports import STATUS_NAMES

    t = book.t
    ws = book.data_sheet(t(N_("Cases (consent given)")), [
        (t(N_("Reference")), 15), (t(N_("Village")), 14), (t(N_("Date")), 12), (t(N_("Received on")), 12),
        (t(N_("Kind")), 28)] + [(t(N_("Form of violence: {form}"), form=t(FORM_LABELS[c])), 12) for c in FORMS]
        + [(t(N_("People subjected")), 11), (t(N_("Status")), 18), (t(N_("Urgent")), 9)])
    by_id = {vid: name for (_cid, vid), name in village_names.items()}  # one commune's cases
    for i, r in enumerate(case_rows, 1):
        _write_cells(book, ws, i, [r.ref, by_id.get(r.village_id, ""), r.occurred_on, r.received_on.date(),
                                   t(KIND_LABELS.get(r.kind or "", r.kind or ""))]
                     + [int(c in r.forms) for c in FORMS]
                     + [r.people, t(STATUS_NAMES.get(r.status, r.status)), r.urgent])
    ws.autofilter(0, 0, max(1, len(case_rows)), 8 + len(FORMS))


def workbook(lang: str, rows: list[ReportRow], village_names: dict, *, figures: Figures | None = None,
             case_rows: list[CaseRow] | None = None, commune_names: dict | None = None,
             extra_summary: list[tuple[str, Outreach, int, int]] | None = None, commune=None,
             others: dict[tuple[str, str], Other] | None = None, now: datetime | None = None,
             small: bool = False) -> bytes:
    """The form (when the figures of one commune are given), then the outreach rows, the villages,
    the consented case rows and, for the province, one line per commune. `small`: for a reader
    outside the commune (form_sheet)."""
    out = io.BytesIO()
    book = Book(lang, out)
    t = book.t
    if figures is not None and commune is not None:
        form_sheet(book, commune, figures, now=now or figures.as_of, small=small)
    several = commune_names is not None and len({r.commune_id for r in rows}) > 1
    ws = book.data_sheet(t(N_("Outreach")), _outreach_headers(book, several))
    others = others or {}
    for n, r in enumerate(rows, 1):
        name = (commune_names or {}).get(r.commune_id, r.commune_id) if several else None
        _write_cells(book, ws, n, _outreach_cells(book, n, r, village_names, others.get((r.commune_id, r.ref)), name))
    ws.autofilter(0, 0, max(1, len(rows)), len(_outreach_headers(book, several)) - 1)
    if figures is not None:
        _village_sheet(book, figures)
        _org_sheet(book, figures)
        if figures.campaigns:
            _campaign_sheet(book, figures)
        if figures.closed_year is not None:
            _closed_year_sheet(book, figures)
    if case_rows is not None:
        _case_sheet(book, case_rows, village_names)
    if extra_summary is not None:
        ps = book.data_sheet(t(N_("By commune")), [
            (t(N_("Commune")), 24), (t(N_("Sessions")), 10), (t(N_("Attendances (total)")), 12), (t(N_("Women")), 9),
            (t(N_("Attendances counted by sex (base of the share)")), 13),
            (t(N_("Share of women (women / attendances counted by sex)")), 12), (t(N_("New cases")), 10),
            (t(N_("Open cases")), 10)])
        for i, (name, o, new, opened) in enumerate(extra_summary, 1):
            _write_cells(book, ps, i, [name, o.sessions, o.total, o.female, o.counted, ("share", o.female, o.counted),
                                       new, opened])
    book.wb.set_properties({"title": t(FORM.title), "company": (commune.name if commune else ""),
                            "comments": t(N_("Made by the commune field-reporting bot"))})
    book.close()
    return out.getvalue()


def _csv(header: list[str], body: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for cells in body:
        writer.writerow(["" if c is None else c for c in cells])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_value(book: Book, v):
    if isinstance(v, tuple) and v and v[0] == "share":
        _, part, whole = v
        return round(100 * part / whole, 1) if whole and part is not None else ""
    if isinstance(v, bool):
        return book.t(N_("Yes")) if v else book.t(N_("No"))
    if isinstance(v, datetime):
        return official_day(v.date())
    if isinstance(v, date):
        return official_day(v)
    return v


def report_csv(lang: str, rows: list[ReportRow], village_names: dict, *,
               others: dict[tuple[str, str], Other] | None = None) -> bytes:
    """The outreach rows as CSV (UTF-8 with a BOM, so Excel reads the diacritics): the data sheet's columns,
    the share of women in percent."""
    book = _TextBook(lang)
    share = book.t(N_("Share of women (women / attendances counted by sex)"))
    header = [label + " (%)" if label == share else label for label, _ in _outreach_headers(book, False)]
    others = others or {}
    body = [[_csv_value(book, c) for c in _outreach_cells(book, n, r, village_names, others.get((r.commune_id, r.ref)),
                                                          None)]
            for n, r in enumerate(rows, 1)]
    return _csv(header, body)


def cases_csv(lang: str, case_rows: list[CaseRow], village_names: dict) -> bytes:
    """The consented case rows as CSV: coded answers only, never free text."""
    from handlers.myreports import STATUS_NAMES

    book = _TextBook(lang)
    t = book.t
    header = [t(N_("Reference")), t(N_("Village")), t(N_("Date")), t(N_("Received on")), t(N_("Kind"))]
    header += [t(N_("Form of violence: {form}"), form=t(FORM_LABELS[c])) for c in FORMS]
    header += [t(N_("People subjected")), t(N_("Status")), t(N_("Urgent"))]
    by_id = {vid: name for (_cid, vid), name in village_names.items()}
    body = [[_csv_value(book, c) for c in [r.ref, by_id.get(r.village_id, ""), r.occurred_on, r.received_on.date(),
                                           t(KIND_LABELS.get(r.kind or "", r.kind or ""))]
             + [int(c in r.forms) for c in FORMS] + [r.people, t(STATUS_NAMES.get(r.status, r.status)), r.urgent]]
            for r in case_rows]
    return _csv(header, body)


class _TextBook(Book):
    """The words of a Book without a workbook (for the CSV files)."""

    def __init__(self, lang: str) -> None:
        self.w = Words(lang)


def chart(lang: str, f: Figures, commune_name: str = "", *, per_year: int = FORM.villages_per_year) -> bytes:
    """Sessions by village (this period and year to date, beside QĐ 1790's two a year) and the women's
    share over the attendances counted by sex, with that base printed; a village whose sessions were not
    counted by sex gets no bar (PNG, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    w = Words(lang)
    names = [name for _, name in f.villages]
    now = [f.village_period.get(vid, Outreach()) for vid, _ in f.villages]
    ytd = [f.village_ytd.get(vid, Outreach()) for vid, _ in f.villages]
    fig = Figure(figsize=(11, 7.5), dpi=90)
    top, bottom = fig.subplots(2, 1, sharex=True)
    xs = list(range(len(names)))
    width = 0.4
    top.bar([x - width / 2 for x in xs], [d.sessions for d in now], width, color="#2b6cb0",
            label=w.t("Sessions, {start} – {end}", start=official_day(f.period.start), end=official_day(f.period.end)))
    top.bar([x + width / 2 for x in xs], [d.sessions for d in ytd], width, color="#90cdf4",
            label=w.t("Sessions, year to date"))
    top.axhline(per_year, color="#c53030", linestyle="--", linewidth=1.2,
                label=w.t("QĐ 1790: {n} sessions per village a year", n=per_year))
    top.set_ylabel(w.t("Sessions"))
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylim(bottom=0, top=max([per_year + 1] + [d.sessions + 1 for d in ytd]))
    top.legend(loc="upper right", fontsize=8)
    top.set_title(w.t("{commune}: outreach by village, {start} – {end}", commune=commune_name,
                      start=official_day(f.period.start), end=official_day(f.period.end)), fontsize=11)
    counted = [(x, d) for x, d in zip(xs, now, strict=True) if d.counted]
    bars = bottom.bar([x for x, _ in counted], [100 * d.female / d.counted for _, d in counted], color="#b83280",
                      label=w.t("Women / attendances counted by sex"))
    for bar, (_, d) in zip(bars, counted, strict=True):
        bottom.annotate(f"{w.pct(100 * d.female / d.counted)}\n{w.n(d.female)}/{w.n(d.counted)}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
    for x, d in zip(xs, now, strict=True):
        if d.sessions and not d.counted:
            bottom.annotate(w.t("not counted by sex"), (x, 2), ha="center", va="bottom", rotation=90, fontsize=7,
                            color="#555555")
    bottom.set_ylabel(w.t("Women's share (%)"))
    bottom.set_ylim(0, 110)
    bottom.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    bottom.legend(loc="upper right", fontsize=8)
    bottom.set_xticks(xs, names, rotation=60, ha="right", fontsize=8)
    bottom.set_xlim(-0.6, max(len(names), 1) - 0.4)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
