"""The digest's report form as a PDF, for channels that take a PDF but not a workbook (a Zalo
Official Account uploads PDF, DOC and DOCX only): the workbook's form sheet (files.form_sheet) on A4,
with the same heading, numbered rows, units, totals, note and signature block, in DejaVu Serif
(the font files matplotlib ships, core/fonts.py), which has every Vietnamese letter.

The numbers are the workbook's: report_form.values() and files.resolve() give both, and a reader
outside the commune (`small`) sees counts of 1 or 2 in the case parts as "<3" and no share of a
small count, as in the sheet. A pure function: figures in, bytes out.
"""

from __future__ import annotations

from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from core.fonts import dejavu
from core.i18n import N_, number, official_day, translate
from handlers.office import report_form
from handlers.office.files import as_of_text, resolve, signed_on
from handlers.office.forms import FORM
from storage.stats import Figures

PDF = "application/pdf"
FONT = "DejaVuSerif"
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 18.0, 12.0, 12.0, 14.0
WIDTH = 210.0 - MARGIN_LEFT - MARGIN_RIGHT  # 180 mm of A4
COLUMNS = (11.0, 89.0, 22.0, 29.0, 29.0)  # STT, indicator, unit, this period, year to date
BODY_PT, TABLE_PT, TITLE_PT, NOTE_PT = 10.5, 9.0, 12.5, 8.5
SIGNATURE_MM = 38.0  # the signature block is kept on one page


class FormPDF(FPDF):
    """A4 portrait, DejaVu Serif in three styles, "Page n of N" at the foot of every page."""

    def __init__(self, lang: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.lang = lang
        regular, bold, italic = dejavu("", "-Bold", "-Italic", family=FONT)
        self.add_font(FONT, "", str(regular))
        self.add_font(FONT, "B", str(bold))
        self.add_font(FONT, "I", str(italic))
        self.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
        self.set_auto_page_break(True, margin=MARGIN_BOTTOM)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "I", 8)
        self.cell(0, 4, translate(self.lang, "Page {page} of {pages}", page=self.page_no(), pages="{nb}"),
                  align="C")

    def pair(self, left: str, right: str, *, style: str = "", right_style: str | None = None,
             size: float = BODY_PT, split: float = 80.0) -> None:
        """One line in two columns: the unit on the left, the state's motto on the right (the
        heading), or who prepares and who signs (the signature block)."""
        y = self.get_y()
        self.set_font(FONT, style, size)
        self.set_xy(MARGIN_LEFT, y)
        self.multi_cell(split, 5, left, align="C")
        below = self.get_y()
        self.set_font(FONT, style if right_style is None else right_style, size)
        self.set_xy(MARGIN_LEFT + split, y)
        self.multi_cell(WIDTH - split, 5, right, align="C")
        self.set_y(max(below, self.get_y()))

    def line_of(self, text: str, *, style: str = "", size: float = BODY_PT, height: float = 5.0) -> None:
        self.set_font(FONT, style, size)
        self.set_x(MARGIN_LEFT)
        self.multi_cell(WIDTH, height, text, align="C")


def _shown(lang: str, row: report_form.Row, value, hide: bool, parts: list) -> str:
    """A cell's text: the rules of files.form_sheet (a blank, "<3", a share or a whole number)."""
    if hide and row.share and value is not None:
        value = "" if any(isinstance(n, int) and 0 < n < 3 for n in parts) else value
    if value is None or value == "":
        return ""
    if row.share:
        return number(lang, 100 * value, 1) + "%"
    if hide and 0 < value < 3:
        return "<3"
    return number(lang, value)


def report_form_pdf(lang: str, figures: Figures, commune, *, now: datetime, form: report_form.Form = FORM,
                    small: bool = False) -> bytes:
    """The form of one commune's figures as an A4 PDF (see the module's docstring)."""

    def t(msgid: str, **params) -> str:
        return translate(lang, msgid, **params) if msgid else ""

    f, period = figures, figures.period
    moment = getattr(f, "computed_at", None) or now.astimezone(commune.tz)
    pdf = FormPDF(lang)
    pdf.set_title(t(form.title))
    pdf.set_author(commune.name)
    pdf.set_creator(t(N_("Made by the commune field-reporting bot")))
    pdf.add_page()

    pdf.pair(commune.name.upper(), t(N_("SOCIALIST REPUBLIC OF VIETNAM")), style="B")
    pdf.pair(t(N_("Form {code}"), code=form.code), t(N_("Independence - Freedom - Happiness")), right_style="B")
    pdf.ln(5)
    pdf.line_of(t(form.title), style="B", size=TITLE_PT, height=6)
    pdf.ln(1)
    pdf.line_of(t(N_("Period: {start} to {end} (year to date from {ytd})"), start=official_day(period.start),
                  end=official_day(period.end), ytd=official_day(period.ytd_start)))
    pdf.line_of(as_of_text(lang, moment), style="I")
    pdf.line_of(t(N_("Source: {document}"), document=t(form.source)), style="I", size=NOTE_PT, height=4)
    pdf.ln(3)

    now_values, ytd_values = report_form.values(f)
    sections = report_form.sections(form)

    pdf.set_font(FONT, "", TABLE_PT)
    bold = FontFace(emphasis="BOLD")
    heading = FontFace(emphasis="BOLD", fill_color=(237, 237, 237))
    with pdf.table(width=WIDTH, col_widths=COLUMNS, text_align=("CENTER", "LEFT", "CENTER", "RIGHT", "RIGHT"),
                   headings_style=heading, repeat_headings=1, line_height=4.2, padding=(0.8, 1.2)) as table:
        head = table.row()
        for label in (t(N_("No.")), t(N_("Indicator")), t(N_("Unit")),
                      t(N_("This period ({start} – {end})"), start=official_day(period.start),
                        end=official_day(period.end)),
                      t(N_("Year to date ({start} – {end})"), start=official_day(period.ytd_start),
                        end=official_day(period.end))):
            head.cell(label, align="CENTER")
        for section, rows in sections:
            if section is not None:
                line = table.row(style=heading)
                line.cell(section.stt, align="CENTER")
                line.cell(t(section.label), colspan=4, align="LEFT")
            columns = [resolve(rows, now_values, True)[0], resolve(rows, ytd_values, False)[0]]
            hide = small and section is not None and section.cases
            for i, r in enumerate(rows):
                strong = r.total or "." not in r.stt
                line = table.row(style=bold if strong else None)
                line.cell(r.stt)
                line.cell(t(r.label))
                line.cell(t(r.unit) if r.unit != report_form.PERCENT else "%")
                for values in columns:
                    parts = [values[k] for k, x in enumerate(rows) if r.share and x.stt in r.share]
                    line.cell(_shown(lang, r, values[i], hide, parts))

    pdf.ln(2)
    pdf.set_font(FONT, "I", NOTE_PT)
    pdf.set_x(MARGIN_LEFT)
    pdf.multi_cell(WIDTH, 4, t(form.note), align="J")
    pdf.ln(4)
    if pdf.get_y() + SIGNATURE_MM > pdf.page_break_trigger:
        pdf.add_page()
    pdf.pair("", signed_on(lang, commune, moment.date()), style="I")
    pdf.pair(t(N_("PREPARED BY")), t(N_("HEAD OF THE UNIT")), style="B")
    pdf.pair(t(N_("(Signature, full name)")), t(N_("(Signature, seal, full name)")), style="I")
    return bytes(pdf.output())
