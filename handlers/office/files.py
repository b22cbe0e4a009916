"""The digest's files: an Excel workbook (openpyxl), a CSV of the same rows and a chart (matplotlib).

Headers are in official wording (translated for English readers); numbers are numeric cells and
dates date cells, so the office can sum and sort without retyping. Case sheets hold aggregates,
and, in the office's own exports only, coded rows of cases whose person subjected agreed.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from bot.i18n import N_, official_day, translate
from handlers.office.render import (
    AGE_LABELS,
    CAMPAIGN_LABELS,
    FORM_LABELS,
    FORMAT_LABELS,
    KIND_LABELS,
    MEASURE_LABELS,
    SEX_LABELS,
    TOPIC_LABELS,
    Words,
)
from storage.stats import CaseRow, Figures, Outreach, ReportRow

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "DD/MM/YYYY"

REPORT_HEADERS = (
    N_("No."), N_("Reference"), N_("Village"), N_("Date held"), N_("Format"), N_("Topics"),
    N_("Attendances (total)"), N_("Men"), N_("Women"), N_("Campaign"), N_("Language"), N_("Leaflets"),
    N_("Banners"), N_("Loudspeaker minutes"), N_("Young people"), N_("Ethnic minority"),
)


def _report_cells(lang: str, n: int, row: ReportRow, village_names: dict) -> list:
    t = lambda msgid: translate(lang, msgid) if msgid else ""  # noqa: E731
    return [
        n, row.ref, village_names.get((row.commune_id, row.village_id)) or t(N_("Whole commune / several villages")),
        row.held_on, t(FORMAT_LABELS.get(row.format, row.format)),
        ", ".join(t(TOPIC_LABELS.get(x, x)) for x in row.topics), row.total, row.male, row.female,
        t(CAMPAIGN_LABELS.get(row.campaign, row.campaign or "")), row.language or "", row.leaflets, row.banners,
        row.loudspeaker_minutes, row.youth, row.ethnic_minority,
    ]


def _sheet(wb, title: str, headers: list[str]):
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(title[:31])
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    return ws


def _date_cells(ws, column: int) -> None:
    for (cell,) in ws.iter_rows(min_row=2, min_col=column, max_col=column):
        if isinstance(cell.value, date):
            cell.number_format = DATE_FORMAT


def _aggregate_rows(w: Words, f: Figures) -> list[tuple[str, int | float | None, int | float | None]]:
    """(indicator, this period, year to date), every value a number."""
    c, y = f.cases, f.cases_ytd
    rows: list[tuple[str, int | float | None, int | float | None]] = [
        (w.t("New cases"), c.new, y.new),
        (w.t("Urgent cases"), c.urgent, y.urgent),
        (w.t("Urgent cases acknowledged"), c.urgent_acknowledged, y.urgent_acknowledged),
    ]
    for labels, now, ytd, prefix in (
        (KIND_LABELS, c.by_kind, y.by_kind, N_("Kind")), (FORM_LABELS, c.by_form, y.by_form, N_("Form of violence")),
        (SEX_LABELS, c.perpetrators, y.perpetrators, N_("Person who committed it")),
        (MEASURE_LABELS, c.measures, y.measures, N_("Measure")),
    ):
        for code, label in labels.items():
            if now.get(code) or ytd.get(code):
                rows.append((f"{w.t(prefix)}: {w.t(label)}", now.get(code, 0), ytd.get(code, 0)))
    for key in sorted(set(c.people) | set(y.people)):
        sex, age = key
        label = f"{w.t(N_('People subjected'))}: {w.t(SEX_LABELS.get(sex, sex))}, {w.t(AGE_LABELS.get(age, age))}"
        rows.append((label, c.people.get(key, 0), y.people.get(key, 0)))
    rows += [
        (w.t("2+ times in 12 months, aged 18 or over"), c.repeat_adults, y.repeat_adults),
        (w.t("Open cases"), f.open_cases, None),
        (w.t("Open cases with no update for 7 days or more"), f.stale_cases, None),
    ]
    for label, (part, whole) in ((N_("Supported with at least one service (%)"), f.supported),
                                 (N_("Person who committed it counselled (%)"), f.counselled)):
        rows.append((w.t(label), None, round(100 * part / whole, 1) if whole else None))
    return rows


def workbook(lang: str, rows: list[ReportRow], village_names: dict, *, figures: Figures | None = None,
             case_rows: list[CaseRow] | None = None, commune_names: dict | None = None,
             extra_summary: list[tuple[str, Outreach, int, int]] | None = None) -> bytes:
    """One sheet of outreach rows with a total line; case aggregates; per-village; consented case rows."""
    from openpyxl import Workbook

    w = Words(lang)
    wb = Workbook()
    wb.remove(wb.active)
    headers = [w.t(h) for h in REPORT_HEADERS]
    several = commune_names is not None and len({r.commune_id for r in rows}) > 1
    if several:
        headers.insert(2, w.t("Commune"))
    ws = _sheet(wb, w.t("Outreach"), headers)
    for n, row in enumerate(rows, 1):
        cells = _report_cells(lang, n, row, village_names)
        if several:
            cells.insert(2, commune_names.get(row.commune_id, row.commune_id))
        ws.append(cells)
    shift = 1 if several else 0
    date_col = 4 + shift
    totals: list = [None] * len(headers)
    totals[1 + shift] = w.t("Total")
    totals[0] = len(rows)
    for i, attr in ((6, "total"), (7, "male"), (8, "female"), (11, "leaflets"), (12, "banners"),
                    (13, "loudspeaker_minutes"), (14, "youth"), (15, "ethnic_minority")):
        totals[i + shift] = sum(getattr(r, attr) or 0 for r in rows)
    ws.append(totals)
    _date_cells(ws, date_col)
    if figures is not None:
        cs = _sheet(wb, w.t("Cases (figures)"), [w.t("Indicator"), w.t("This period"), w.t("Year to date")])
        for row in _aggregate_rows(w, figures):
            cs.append(list(row))
        vs = _sheet(wb, w.t("By village"), [w.t("Village"), w.t("Sessions"), w.t("Attendances (total)"),
                                             w.t("Women"), w.t("Sessions, year to date")])
        for vid, name in figures.villages:
            now, ytd = figures.village_period.get(vid, Outreach()), figures.village_ytd.get(vid, Outreach())
            vs.append([name, now.sessions, now.total, now.female, ytd.sessions])
    if extra_summary is not None:
        ps = _sheet(wb, w.t("By commune"), [w.t("Commune"), w.t("Sessions"), w.t("Attendances (total)"),
                                             w.t("Women"), w.t("New cases"), w.t("Open cases")])
        for name, o, new, opened in extra_summary:
            ps.append([name, o.sessions, o.total, o.female, new, opened])
    if case_rows is not None:
        ks = _sheet(wb, w.t("Cases (consent given)"), [
            w.t("Reference"), w.t("Village"), w.t("Date"), w.t("Received on"), w.t("Kind"),
            w.t("Forms of violence"), w.t("People subjected"), w.t("Status"), w.t("Urgent")])
        from handlers.myreports import STATUS_NAMES

        by_id = {vid: name for (_cid, vid), name in village_names.items()}  # one commune's cases
        for r in case_rows:
            ks.append([r.ref, by_id.get(r.village_id, ""),
                       r.occurred_on, r.received_on.date(), w.t(KIND_LABELS.get(r.kind, r.kind or "")),
                       ", ".join(w.t(FORM_LABELS.get(x, x)) for x in r.forms), r.people,
                       w.t(STATUS_NAMES.get(r.status, r.status)), w.t("Yes") if r.urgent else w.t("No")])
        _date_cells(ks, 3)
        _date_cells(ks, 4)
    for sheet in wb.worksheets:
        for col in sheet.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in col[:50])
            sheet.column_dimensions[col[0].column_letter].width = min(max(10, width + 2), 40)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def report_csv(lang: str, rows: list[ReportRow], village_names: dict) -> bytes:
    """The outreach rows as CSV (UTF-8 with a BOM, so Excel reads the diacritics)."""
    w = Words(lang)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([w.t(h) for h in REPORT_HEADERS])
    for n, row in enumerate(rows, 1):
        cells = _report_cells(lang, n, row, village_names)
        cells[3] = official_day(row.held_on)
        writer.writerow(["" if c is None else c for c in cells])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def chart(lang: str, f: Figures) -> bytes:
    """Sessions and attendances by village, and the women's share (PNG, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    w = Words(lang)
    names = [name for _, name in f.villages]
    data = [f.village_period.get(vid, Outreach()) for vid, _ in f.villages]
    fig = Figure(figsize=(10, 6.5), dpi=90)
    top, bottom = fig.subplots(2, 1, sharex=True)
    xs = range(len(names))
    top.bar(xs, [d.sessions for d in data], color="#2b6cb0", label=w.t("Sessions"))
    top.set_ylabel(w.t("Sessions"))
    twin = top.twinx()
    twin.plot(xs, [d.total for d in data], color="#dd6b20", marker="o", label=w.t("Attendances (total)"))
    twin.set_ylabel(w.t("Attendances (total)"))
    top.set_title(w.t("Sessions and attendances by village") + f" · {official_day(f.period.start)} – "
                  f"{official_day(f.period.end)}")
    bottom.bar(xs, [d.female_share or 0 for d in data], color="#b83280")
    bottom.set_ylabel(w.t("Women's share (%)"))
    bottom.set_ylim(0, 100)
    bottom.set_xticks(list(xs), names, rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
