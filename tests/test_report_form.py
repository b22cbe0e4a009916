"""The workbook an officer signs: the report form read back from the file (heading, print setup,
formulas with their values, a fixed layout), the analysable data sheets, the chart, and the export
and figures commands run as the operator runs them. Expected figures are written by hand."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import select

from handlers.office import files, report_form
from handlers.office.commands import commune_text
from handlers.office.forms import FORM
from storage import stats
from storage.models import AuditEntry, Case, CasePerson, Report, ReportTopic
from storage.people import create_person
from tests.helpers import vi

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOVEMBER = stats.month_period(2026, 11)
OCTOBER = stats.month_period(2026, 10)


def local(y, m, d, h=10, mi=0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ).astimezone(UTC)


# 08:30 on Saturday 05/12/2026 in Xuân Dương: November is over.
NOW = local(2026, 12, 5, 8, 30)


async def seed(app) -> None:
    """November 2026: three sessions (one not counted by sex), one in March; two cases, one consented."""
    async with app.sessions() as s, s.begin():
        p = await create_person(s, now=NOW, name="Hoàng Văn Ba", commune_id="xuanduong", roles=["reporter"],
                                villages=["t01"], org="village_head", lang="vi")
        rows = [
            # ref, village, held, format, format_other, topics, topic_other, total, male, female, org, language, campaign
            ("BC-2026-0001", "t01", date(2026, 11, 5), "meeting", None, ["gender_equality", "domestic_violence"],
             None, 120, 50, 70, "village_head", None, None),
            ("BC-2026-0002", "t01", date(2026, 11, 12), "other", "Chiếu phim lưu động", ["domestic_violence", "other"],
             "Nuôi dạy con, gia đình hạnh phúc", 1500, None, None, "womens_union", "hmong", None),
            ("BC-2026-0003", "t02", date(2026, 11, 20), "household", None, ["trafficking"], None, 30, 10, 20,
             "youth_union", "tay", "gender_month"),
            ("BC-2026-0004", "t03", date(2026, 3, 2), "meeting", None, ["gender_equality"], None, 40, 15, 25,
             "village_head", None, None),
        ]
        for ref, village, held, fmt, fmt_other, topics, topic_other, total, male, female, org, language, campaign in rows:
            r = Report(ref=ref, commune_id="xuanduong", village_id=village, person_id=p.id, org=org, held_on=held,
                       format=fmt, format_other=fmt_other, topic_other=topic_other, attendees_total=total,
                       attendees_male=male, attendees_female=female, language=language, campaign=campaign,
                       created_at=local(held.year, held.month, held.day))
            s.add(r)
            await s.flush()
            s.add_all([ReportTopic(report_id=r.id, topic=t) for t in topics])
        # A corrected report: only its current version counts.
        s.add(Report(ref="BC-2026-0001", commune_id="xuanduong", village_id="t01", person_id=p.id, org="village_head",
                     held_on=date(2026, 11, 5), format="meeting", attendees_total=999, attendees_male=1,
                     attendees_female=998, created_at=local(2026, 11, 5), superseded_at=local(2026, 11, 6)))
        for ref, consent in (("HS-2026-0001", "agreed"), ("HS-2026-0002", "refused")):
            c = Case(ref=ref, commune_id="xuanduong", reporter_id=p.id, created_at=local(2026, 11, 10),
                     confirmed_at=local(2026, 11, 10), updated_at=local(2026, 11, 10), status="new", village_id="t01",
                     kind="domestic", people_count=1, perpetrator_sex="male", perpetrator_age="18_59",
                     consent=consent)
            s.add(c)
            await s.flush()
            s.add(CasePerson(case_id=c.id, position=1, sex="female", age_group="16_59"))


async def book_of(app, config, period, *, lang="vi"):
    commune = config.communes[0]
    async with app.sessions() as s:
        f = await stats.figures(s, commune, period, now=NOW)
        rows = await stats.report_rows(s, [commune.id], period.start, period.end)
        others = await files.other_answers(s, [commune.id], period.start, period.end)
    names = {(commune.id, v.id): v.name for v in commune.villages}
    data = files.workbook(lang, rows, names, figures=f, commune=commune, others=others, now=NOW)
    return load_workbook(io.BytesIO(data)), load_workbook(io.BytesIO(data), data_only=True), f


def row_of(ws, section: str, stt: str) -> int:
    """The sheet row of a form line: its STT within its section (I, II, …)."""
    current = None
    for r in range(1, ws.max_row + 1):
        a = ws.cell(r, 1).value
        if a in ("I", "II", "III", "IV", "V"):
            current = a
        elif current == section and a == stt:
            return r
    raise AssertionError(f"{section}.{stt} not found")


async def test_the_form_has_the_official_heading_print_setup_and_signature(app, config):
    await seed(app)
    book, _, _ = await book_of(app, config, NOVEMBER)
    ws = book.worksheets[0]
    assert ws.title == vi("Form {code}", code="01-BC-X")
    assert ws["A1"].value == "UBND XÃ XUÂN DƯƠNG"
    assert ws["C1"].value == vi("SOCIALIST REPUBLIC OF VIETNAM") == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert ws["C2"].value == "Độc lập - Tự do - Hạnh phúc"
    assert ws["A4"].value == vi(FORM.title)
    assert ws["A5"].value == "Kỳ báo cáo: từ 01/11/2026 đến 30/11/2026 (lũy kế từ 01/01/2026)"
    assert ws["A6"].value == "Số liệu tính đến 08:30 ngày 05/12/2026"
    assert "Biểu số 01/BC-X" in ws["A7"].value and "Thông tư 23/2011/TT-BVHTTDL" in ws["A7"].value
    assert [ws.cell(9, c).value for c in range(1, 4)] == ["STT", "Chỉ tiêu", "Đơn vị tính"]
    assert ws.cell(9, 4).value == "Kỳ báo cáo (01/11/2026 – 30/11/2026)"
    assert "A1:B1" in {str(m) for m in ws.merged_cells.ranges}
    # A4 portrait, one page wide, the header row on every page.
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows == "$9:$9"
    assert ws.cell(row_of(ws, "II", "11"), 2).alignment.wrap_text
    # The signature block, Decree 30/2020 style.
    texts = [ws.cell(r, c).value for r in range(ws.max_row - 4, ws.max_row + 1) for c in (1, 3)]
    assert "Xuân Dương, ngày 05 tháng 12 năm 2026" in texts
    assert "NGƯỜI LẬP BIỂU" in texts and "THỦ TRƯỞNG ĐƠN VỊ" in texts


async def test_the_form_rows_carry_formulas_with_their_values_and_units(app, config):
    await seed(app)
    book, values, _ = await book_of(app, config, NOVEMBER)
    ws, wv = book.worksheets[0], values.worksheets[0]

    def line(section, stt):
        r = row_of(ws, section, stt)
        return ws.cell(r, 2).value, ws.cell(r, 3).value, wv.cell(r, 4).value, wv.cell(r, 5).value, ws.cell(r, 4).value

    # By hand: November 3 sessions (120 + 1.500 + 30; counted by sex 120 + 30 = 150: men 60, women 90);
    # year to date also 02/03 (40: 15 men, 25 women).
    assert line("I", "1")[1:4] == ("Buổi", 3, 4)
    assert line("I", "2")[1:4] == ("Lượt người", 1650, 1690)
    r2 = row_of(ws, "I", "2")
    assert ws.cell(r2, 4).value == f"=D{r2 + 1}+D{r2 + 4}" and ws.cell(r2, 5).value == f"=E{r2 + 1}+E{r2 + 4}"
    assert [line("I", s)[2:4] for s in ("2.1", "2.1.1", "2.1.2", "2.2")] == [(150, 190), (60, 75), (90, 115),
                                                                              (1500, 1500)]
    share = line("I", "3")
    assert share[1] == "%" and share[2] == 0.6 and round(share[3], 4) == round(115 / 190, 4)
    assert share[4].startswith("=IF(") and ws.cell(row_of(ws, "I", "3"), 4).number_format == "0.0%"
    assert [line("I", s)[2:4] for s in ("4", "5", "6")] == [(22, 22), (2, 3), (1, 1)]
    # Case lines: units, and zeros stay (no confirmed case), totals are formulas over their rows.
    assert line("II", "1")[1] == "Vụ" and line("II", "6")[1] == "Hộ" and line("II", "11")[1] == "Người"
    assert line("II", "2")[2:4] == (0, 0)
    r11 = row_of(ws, "II", "11")
    assert ws.cell(r11, 4).value == f"=D{r11 + 1}+D{r11 + 6}+D{r11 + 11}"
    assert ws.cell(r11 + 1, 4).value == f"=D{r11 + 2}+D{r11 + 3}+D{r11 + 4}+D{r11 + 5}"
    assert [ws.cell(r11 + i, 2).value for i in range(1, 6)] == [
        "Nam", "dưới 16 tuổi", "từ 16 đến dưới 60 tuổi", "từ đủ 60 tuổi trở lên", "không rõ tuổi"]
    # Whole numbers in the Vietnamese way whatever the reader's Excel: 1.650.
    assert ws.cell(r2, 4).number_format == files.NUMBER_FORMATS["vi"]
    # Resolution 28's indicators exist for the year only.
    assert line("V", "1")[2] is None


async def test_two_periods_line_up_row_for_row(app, config):
    await seed(app)
    november, _, _ = await book_of(app, config, NOVEMBER)
    october, _, _ = await book_of(app, config, OCTOBER)  # nothing reported: every line is still there
    a, b = november.worksheets[0], october.worksheets[0]
    assert a.max_row == b.max_row > 120
    assert [a.cell(r, 1).value for r in range(9, a.max_row)] == [b.cell(r, 1).value for r in range(9, b.max_row)]
    assert [a.cell(r, 2).value for r in range(10, a.max_row - 6)] == [b.cell(r, 2).value for r in range(10, b.max_row - 6)]


def per_kind_figures():
    """Per-kind figures as storage/stats.py gives them, written by hand."""
    def flow(**kw):
        return stats.CaseFlow(**kw)

    def cases(**kw):
        base = dict(households=0, by_form={}, perpetrators={}, perpetrator_ages={}, measures={}, support={}, flags={},
                    people={})
        return SimpleNamespace(**{**base, **kw})

    dv = cases(households=2, by_form={"physical": 2, "psychological": 1}, perpetrators={"male": 2, "female": 1},
               perpetrator_ages={"18_59": 2, "60p": 1}, measures={"community_service": 1},
               support={"medical": 2}, flags={"disabled": 1},
               people={("female", "16_59"): 2, ("male", "u16"): 1, ("female", "unknown"): 1})
    tr = cases(people={("female", "u16"): 1})
    kinds = {"domestic": SimpleNamespace(period=dv, ytd=dv, flow=flow(received=4, confirmed=3, ever_confirmed=3), flow_ytd=flow(received=4)),
             "trafficking": SimpleNamespace(period=tr, ytd=tr, flow=flow(received=1), flow_ytd=flow(received=1))}
    f = SimpleNamespace(outreach=stats.Outreach(), ytd=stats.Outreach(), village_period={}, village_ytd={},
                        villages=[("t01", "Thôn 1")], kinds=kinds, target_2a=SimpleNamespace(part=2, whole=4),
                        period=NOVEMBER, computed_at=NOW.astimezone(TZ))
    return f


def form_of(f, **kw):
    out = io.BytesIO()
    book = files.Book("vi", out)
    files.form_sheet(book, SimpleNamespace(name="UBND xã Xuân Dương", tz=TZ), f, now=NOW, **kw)
    book.close()
    return load_workbook(io.BytesIO(out.getvalue())).worksheets[0], \
        load_workbook(io.BytesIO(out.getvalue()), data_only=True).worksheets[0]


def test_a_breakdown_by_kind_fills_its_own_part_and_its_subtotals():
    """The form from per-kind figures: DV and trafficking never mix."""
    f = per_kind_figures()
    now, ytd = report_form.values(f)
    assert (now["dv.received"], now["dv.confirmed"], now["dv.committed.sex.female"]) == (4, 3, 1)
    assert now["dv.subjected.female.16_59"] == 2 and now["tr.subjected.female.u16"] == 1
    assert "target_2a.part" not in now and (ytd["target_2a.part"], ytd["target_2a.whole"]) == (2, 4)
    _, ws = form_of(f)

    def v(section, stt):
        return ws.cell(row_of(ws, section, stt), 4).value

    assert (v("II", "1"), v("II", "2"), v("II", "6")) == (4, 3, 2)
    assert (v("II", "7.1"), v("II", "7.2")) == (1, 2)  # tinh thần, then thể chất
    assert (v("II", "8"), v("II", "8.1"), v("II", "8.2")) == (3, 2, 1)  # Nam before Nữ
    assert (v("II", "9"), v("II", "9.3"), v("II", "9.4")) == (3, 2, 1)
    assert v("II", "10.7") == 1 and ws.cell(row_of(ws, "II", "10.7"), 2).value == "Thực hiện công việc phục vụ cộng đồng"
    assert (v("II", "11"), v("II", "11.1"), v("II", "11.1.1"), v("II", "11.2"), v("II", "11.2.2"),
            v("II", "11.2.4")) == (4, 1, 1, 3, 2, 1)
    assert (v("II", "12.1"), v("II", "13.1")) == (1, 2)
    assert (v("IV", "1"), v("IV", "6"), v("IV", "6.2.1"), v("III", "7")) == (1, 1, 1, 0)
    assert ws.cell(row_of(ws, "V", "1.2"), 5).value == 0.5


def test_outside_the_commune_case_counts_of_one_or_two_read_less_than_three():
    formulas, ws = form_of(per_kind_figures(), small=True)

    def v(section, stt):
        return ws.cell(row_of(ws, section, stt), 4).value

    assert (v("II", "1"), v("II", "2"), v("II", "6"), v("II", "8.2"), v("II", "8.3")) == (4, 3, "<3", "<3", 0)
    assert v("II", "8") == 3 and formulas.cell(row_of(ws, "II", "8"), 4).value == 3  # a number, not a formula
    assert v("IV", "1") == "<3" and ws.cell(row_of(ws, "V", "1.2"), 5).value in ("", None)  # 2 of 4: not shown
    assert v("I", "1") == 0 and formulas.cell(row_of(ws, "I", "2"), 4).value.startswith("=")  # outreach as it is


async def test_the_data_sheets_can_be_analysed(app, config):
    await seed(app)
    book, values, _ = await book_of(app, config, NOVEMBER)
    # November overlaps the Action Month for Gender Equality (15/11 – 15/12): its sheet is there.
    assert book.sheetnames[1:] == [vi("Outreach"), vi("By village"), vi("By organisation"), vi("Campaigns")]
    ws, wv = book[vi("Outreach")], values[vi("Outreach")]
    head = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(head)}
    topic = "Chủ đề: " + vi("Domestic violence prevention")
    assert topic in col and not any(h and "," in h and h.startswith("Chủ đề:") and h != topic for h in head[:0])
    refs = [ws.cell(r, col[vi("Reference")]).value for r in range(2, ws.max_row + 1)]
    assert refs == ["BC-2026-0001", "BC-2026-0002", "BC-2026-0003"]  # no total line: totals live in the form
    assert [ws.cell(r, col[topic]).value for r in range(2, 5)] == [1, 1, 0]
    assert [ws.cell(r, col["Chủ đề: " + vi("Law on Gender Equality")]).value for r in range(2, 5)] == [1, 0, 0]
    assert ws.cell(3, col[vi("Format (other), as described")]).value == "Chiếu phim lưu động"
    assert ws.cell(3, col[vi("Topic (other), as described")]).value == "Nuôi dạy con, gia đình hạnh phúc"
    assert [ws.cell(r, col[vi("Reporting organisation")]).value for r in range(2, 5)] == [
        "Trưởng thôn", "Hội Liên hiệp Phụ nữ", "Đoàn Thanh niên"]
    assert ws.cell(3, col[vi("Language")]).value == "Mông" and ws.cell(4, col[vi("Language")]).value == "Tày"
    assert ws.cell(4, col[vi("Campaign")]).value.startswith("Tháng hành động vì bình đẳng giới")
    assert ws.cell(2, col[vi("Date held")]).is_date
    share, base = col[vi("Share of women (women / attendances counted by sex)")], \
        col[vi("Attendances counted by sex (base of the share)")]
    assert [wv.cell(r, base).value for r in range(2, 5)] == [120, 0, 30]
    assert wv.cell(2, share).value == 70 / 120 and wv.cell(3, share).value in ("", None)
    assert ws.cell(2, share).value.startswith("=IF(")
    assert not any(isinstance(c.value, str) and c.value in ("hmong", "tay", "womens_union", "meeting")
                   for row in ws.iter_rows() for c in row)
    villages = values[vi("By village")]
    assert [c.value for c in villages[2]][:8] == ["Thôn 1", 2, 1620, 50, 70, 120, 70 / 120, 2]


async def test_the_chart_draws_whole_sessions_from_zero_the_reference_and_no_false_zero(app, config, monkeypatch):
    await seed(app)
    async with app.sessions() as s:
        f = await stats.figures(s, config.communes[0], NOVEMBER, now=NOW)
    drawn = {}
    from matplotlib.figure import Figure

    real = Figure.savefig

    def keep(fig, *a, **kw):
        drawn["fig"] = fig
        return real(fig, *a, **kw)

    monkeypatch.setattr(Figure, "savefig", keep)
    png = files.chart("vi", f, config.communes[0].name)
    assert png[:4] == b"\x89PNG"
    top, bottom = drawn["fig"].axes
    assert top.get_ylim()[0] == 0 and bottom.get_ylim()[0] == 0
    assert all(float(t).is_integer() for t in top.get_yticks())
    title = top.get_title()
    assert "UBND xã Xuân Dương" in title and "01/11/2026" in title and "30/11/2026" in title
    assert any(line.get_ydata()[0] == 2 for line in top.get_lines())  # QĐ 1790: 2 sessions a village a year
    assert "QĐ 1790" in " ".join(t.get_text() for t in top.get_legend().get_texts())
    # Thôn 1: 70 of the 120 counted by sex (its 1.500 not counted are not a 0%); Thôn 2: 20/30; no other bar.
    heights = sorted(round(p.get_height(), 1) for p in bottom.patches)
    assert heights == [58.3, 66.7]
    assert {"58,3%\n70/120", "66,7%\n20/30"} <= {t.get_text() for t in bottom.texts}


# ---- the command line ------------------------------------------------------------------------------


def run(args, env, tmp_path):
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def cli_env(app, tmp_path, secret_env, *, via_config: bool) -> dict:
    db = app.engine.url.database
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "BOT_CONFIG")}
    env.update(secret_env)
    if via_config:
        config = tmp_path / "config.toml"
        config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
            'url = "sqlite+aiosqlite:///data/bot.db"', f'url = "sqlite+aiosqlite:///{db}"'), encoding="utf-8")
        env["BOT_CONFIG"] = str(config)
    else:
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
    return env


async def test_export_writes_the_form_privately_and_is_audited(app, config, tmp_path, secret_env):
    await seed(app)
    await app.engine.dispose()
    env = cli_env(app, tmp_path, secret_env, via_config=True)
    out = tmp_path / "bao-cao.xlsx"
    out.write_bytes(b"old")
    os.chmod(out, 0o644)
    done = run(["export", "--commune", "xuanduong", "--period", "11/2026", "--out", str(out)], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 outreach report(s)" in done.stdout and "audit log" in done.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    book = load_workbook(out, data_only=True)
    assert book.sheetnames == [vi("Form {code}", code="01-BC-X"), vi("Outreach"), vi("By village"),
                               vi("By organisation"), vi("Campaigns")]
    ws = book.worksheets[0]
    assert ws.cell(row_of(ws, "I", "2"), 4).value == 1650
    with_cases = tmp_path / "ho-so.xlsx"
    done = run(["export", "--period", "01/11/2026-30/11/2026", "--out", str(with_cases), "--cases"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 case row(s)" in done.stdout
    cases = load_workbook(with_cases)[vi("Cases (consent given)")]
    assert [r[0] for r in cases.iter_rows(min_row=2, values_only=True)] == ["HS-2026-0001"]  # not the refused one
    async with app.sessions() as s:
        entries = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id))).all()
    assert [(e.channel, e.actor_id) for e in entries] == [("cli", None), ("cli", None)]
    assert "2026-11-01..2026-11-30 reports=3 case_rows=0" in entries[0].detail
    assert "case_rows=1" in entries[1].detail and "file=ho-so.xlsx" in entries[1].detail


async def test_export_as_csv_gives_the_data_sheet_or_the_consented_cases(app, config, tmp_path, secret_env):
    await seed(app)
    await app.engine.dispose()
    env = cli_env(app, tmp_path, secret_env, via_config=False)  # DATABASE_URL, as a deployment sets it
    out = tmp_path / "tuyen-truyen.csv"
    done = run(["export", "--period", "11/2026", "--out", str(out), "--csv"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    head, *body = rows
    assert [r[1] for r in body] == ["BC-2026-0001", "BC-2026-0002", "BC-2026-0003"]
    col = {h: i for i, h in enumerate(head)}
    assert body[0][col[vi("Date held")]] == "05/11/2026"
    assert body[0][col[vi("Share of women (women / attendances counted by sex)") + " (%)"]] == "58.3"
    assert body[0][col[vi("Attendances counted by sex (base of the share)")]] == "120"
    assert body[1][col[vi("Language")]] == "Mông"
    cases = tmp_path / "ho-so.csv"
    done = run(["export", "--period", "11/2026", "--out", str(cases), "--csv", "--cases"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    head, *body = list(csv.reader(io.StringIO(cases.read_bytes().decode("utf-8-sig"))))
    assert [r[0] for r in body] == ["HS-2026-0001"]
    assert body[0][head.index(vi("Kind"))] == vi("Domestic violence")
    bad = run(["export", "--period", "quy 9", "--out", str(tmp_path / "x.xlsx")], env, tmp_path)
    assert bad.returncode == 2 and "--period" in bad.stderr and not (tmp_path / "x.xlsx").exists()


async def test_figures_prints_what_tuan_prints(app, config, tmp_path, secret_env):
    await seed(app)
    env = cli_env(app, tmp_path, secret_env, via_config=True)
    done = run(["figures", "--commune", "xuanduong", "--period", "01/11/2026-30/11/2026"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    async with app.sessions() as s:
        expected = await commune_text(s, config, config.communes[0], stats.range_period(date(2026, 11, 1),
                                      date(2026, 11, 30)), now=datetime.now(UTC), lang="vi")
    as_of = vi("Figures as of {time} on {date}", time="§", date="§").split("§")[0]

    def steady(text):  # the moment the figures were read, and the days left to the next campaign, move on
        return [line for line in text.splitlines() if not line.startswith(as_of) and "còn" not in line
                and "left" not in line]

    assert steady(done.stdout.rstrip("\n")) == steady(expected)
    assert "1.650" in done.stdout
    # Periods by name, typed without tone marks, as /thang reads them.
    year = run(["figures", "--period", "nam 2026"], env, tmp_path)
    assert year.returncode == 0, year.stderr
    assert year.stdout.startswith("SỐ LIỆU NĂM 2026 (01/01 – 31/12/2026")
    half = run(["export", "--period", "6 thang cuoi nam 2026", "--out", str(tmp_path / "h2.csv"), "--csv"], env,
               tmp_path)
    assert half.returncode == 0, half.stderr
    assert "2026-07-01 .. 2026-12-31" in half.stdout
    unknown = run(["figures", "--commune", "nowhere"], env, tmp_path)
    assert unknown.returncode == 2 and "nowhere" in unknown.stderr
