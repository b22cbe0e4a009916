"""The digest's report form as a PDF (handlers/office/form_pdf.py), read back with pypdf: A4, the
official heading and signature block in Vietnamese, and the workbook's figures for the same data.
Expected figures are written by hand from the data made here."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from pypdf import PdfReader

from handlers.office import files
from handlers.office.form_pdf import report_form_pdf
from storage import stats
from storage.models import Report
from storage.people import create_person

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOVEMBER = stats.month_period(2026, 11)
NOW = datetime(2026, 12, 5, 8, 30, tzinfo=TZ).astimezone(UTC)  # Saturday 05/12/2026, 08:30 in Xuân Dương


async def seed(app) -> None:
    """November 2026: 2 sessions in Thôn 1 (80 people: 30 men, 50 women; 200 not counted by sex) and
    one in Thôn 2 (45: 20 men, 25 women); in March one in Thôn 4 (60: 24 men, 36 women)."""
    async with app.sessions() as s, s.begin():
        p = await create_person(s, now=NOW, name="Lò Văn Tâm", commune_id="xuanduong", roles=["reporter"],
                                villages=["t01"], org="village_head", lang="vi")
        for n, (village, held, total, male, female) in enumerate((
                ("t01", date(2026, 11, 3), 80, 30, 50), ("t01", date(2026, 11, 17), 200, None, None),
                ("t02", date(2026, 11, 24), 45, 20, 25), ("t04", date(2026, 3, 9), 60, 24, 36)), 1):
            s.add(Report(ref=f"BC-2026-{n:04d}", commune_id="xuanduong", village_id=village, person_id=p.id,
                         org="village_head", held_on=held, format="meeting", attendees_total=total,
                         attendees_male=male, attendees_female=female,
                         created_at=datetime(held.year, held.month, held.day, 9, tzinfo=UTC)))


async def figures_of(app, config):
    commune = config.communes[0]
    async with app.sessions() as s:
        f = await stats.figures(s, commune, NOVEMBER, now=NOW)
        rows = await stats.report_rows(s, [commune.id], NOVEMBER.start, NOVEMBER.end)
    return commune, f, rows


def text_of(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def line(text: str, start: str) -> list[str]:
    """The figures at the end of the form's line that begins so ("2.1.1 Nam Lượt người 50 74")."""
    found = [ln for ln in text.splitlines() if ln.startswith(start + " ")]
    assert found, f"no line {start!r}"
    return found[0].split()[-2:]


def sheet_values(book: bytes, label: str, occurrence: int = 0) -> tuple:
    ws = load_workbook(io.BytesIO(book), data_only=True).worksheets[0]
    rows = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value == label]
    r = rows[occurrence]
    return ws.cell(r, 4).value, ws.cell(r, 5).value


async def test_the_pdf_is_the_workbooks_form_on_a4_in_vietnamese(app, config):
    await seed(app)
    commune, f, rows = await figures_of(app, config)
    data = report_form_pdf("vi", f, commune, now=NOW)
    assert data.startswith(b"%PDF-") and len(data) <= 5 * 1024 * 1024
    reader, text = text_of(data)
    page = reader.pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)  # A4 in points
    assert "UBND XÃ XUÂN DƯƠNG" in text and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text and "Biểu 01/BC-X" in text
    assert "BÁO CÁO THỐNG KÊ CÔNG TÁC TUYÊN TRUYỀN BÌNH ĐẲNG GIỚI VÀ" in text
    assert "Kỳ báo cáo: từ 01/11/2026 đến 30/11/2026 (lũy kế từ 01/01/2026)" in text
    assert "Số liệu tính đến 08:30 ngày 05/12/2026" in text
    assert "Xuân Dương, ngày 05 tháng 12 năm 2026" in text
    assert "NGƯỜI LẬP BIỂU" in text and "THỦ TRƯỞNG ĐƠN VỊ" in text and "(Ký, đóng dấu, ghi rõ họ tên)" in text

    # By hand: November 3 sessions, 80 + 200 + 45 = 325 people; counted by sex 80 + 45 = 125 (men 50,
    # women 75), 200 not; year to date also March's 60 (24 men, 36 women): 4 sessions, 385 people,
    # 185 counted (74 men, 111 women). Villages: Thôn 1 and 2 this period, also Thôn 4 this year.
    assert line(text, "1 Số buổi tuyên truyền Buổi") == ["3", "4"]
    assert line(text, "2 Số lượt người tham dự Lượt người") == ["325", "385"]
    assert line(text, "2.1.1 Nam Lượt người") == ["50", "74"]
    assert line(text, "2.1.2 Nữ Lượt người") == ["75", "111"]
    assert line(text, "2.2 Không đếm theo giới Lượt người") == ["200", "200"]
    assert "60,0% 60,0%" in text  # the women's share: 75/125 and 111/185
    assert line(text, "5 Số thôn có tổ chức tuyên truyền Thôn") == ["2", "3"]
    # The same figures as the workbook's form sheet for the same data.
    names = {(commune.id, v.id): v.name for v in commune.villages}
    book = files.workbook("vi", rows, names, figures=f, commune=commune, now=NOW)
    assert sheet_values(book, "Số buổi tuyên truyền") == (3, 4)
    assert sheet_values(book, "Số lượt người tham dự") == (325, 385)
    assert sheet_values(book, "Nam") == (50, 74)
    assert sheet_values(book, "Không đếm theo giới") == (200, 200)
    # Every row of the form is there, zeros too: the case parts and the national targets.
    assert "II BẠO LỰC GIA ĐÌNH" in text and "V CHỈ TIÊU QUỐC GIA (NGHỊ QUYẾT 28/NQ-CP)" in text
    assert re.search(r"^1 Số vụ việc nghi bạo lực gia đình tiếp nhận Vụ 0 0$", text, re.M)


def test_outside_the_commune_counts_of_one_or_two_read_less_than_three():
    """Per-kind figures written by hand, as tests/test_report_form.py makes them."""
    def cases(**kw):
        base = dict(households=0, by_form={}, perpetrators={}, perpetrator_ages={}, measures={}, support={},
                    flags={}, people={})
        return SimpleNamespace(**{**base, **kw})

    dv = cases(households=2, perpetrators={"male": 4})
    kinds = {"domestic": SimpleNamespace(period=dv, ytd=dv, flow=stats.CaseFlow(received=5, ever_confirmed=1),
                                         flow_ytd=stats.CaseFlow(received=5, ever_confirmed=1))}
    f = SimpleNamespace(outreach=stats.Outreach(), ytd=stats.Outreach(), village_period={}, village_ytd={},
                        villages=[("t01", "Thôn 1")], kinds=kinds, target_2a=SimpleNamespace(part=1, whole=4),
                        period=NOVEMBER, computed_at=NOW.astimezone(TZ))
    commune = SimpleNamespace(name="UBND xã Xuân Dương", tz=TZ)
    _, inside = text_of(report_form_pdf("vi", f, commune, now=NOW))
    _, outside = text_of(report_form_pdf("vi", f, commune, now=NOW, small=True))
    received = "1 Số vụ việc nghi bạo lực gia đình tiếp nhận Vụ"
    confirmed = "2 Tổng số vụ bạo lực gia đình (đã xác định) Vụ"
    assert line(inside, received) == ["5", "5"] and line(outside, received) == ["5", "5"]
    assert line(inside, confirmed) == ["1", "1"] and line(outside, confirmed) == ["<3", "<3"]
    assert line(outside, "8.1 Nam Người") == ["4", "4"]
    assert "25,0%" in inside and "25,0%" not in outside  # 1 of 4 supported: no share beside a small count
