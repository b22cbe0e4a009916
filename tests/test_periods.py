"""Any period an officer reports on (issue 12, items 8–11): the calendar year everywhere, periods by
name typed without tone marks, every campaign of the period with its own totals, and figures by
organisation. One hand-computed data set; every expected figure below is worked out by hand in the
comments beside it, never by the code under test."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from handlers.office import files, periods, render
from storage import stats
from storage.models import Case, CasePerson, CaseStatusChange, Report, ReportTopic
from storage.people import attach_identity, create_person
from tests.fakechannel import User
from tests.helpers import vi
from tests.test_official_figures import recomputable
from tests.test_report_form import row_of

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TODAY = date(2026, 12, 2)


def local(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=TZ).astimezone(UTC)


# --------------------------------------------------------------------------- periods by name

@pytest.mark.parametrize(("typed", "default", "start", "end", "kind"), [
    ("quy 2", "month", date(2026, 4, 1), date(2026, 6, 30), "quarter"),
    ("Quý II/2025", "month", date(2025, 4, 1), date(2025, 6, 30), "quarter"),
    ("q4 2026", "week", date(2026, 10, 1), date(2026, 12, 31), "quarter"),
    ("6 thang", "month", date(2026, 1, 1), date(2026, 6, 30), "half"),
    ("6 tháng đầu năm 2025", "month", date(2025, 1, 1), date(2025, 6, 30), "half"),
    ("6 thang cuoi nam", "week", date(2026, 7, 1), date(2026, 12, 31), "half"),
    ("nam 2026", "month", date(2026, 1, 1), date(2026, 12, 31), "year"),
    ("Năm 2025", "week", date(2025, 1, 1), date(2025, 12, 31), "year"),
    ("nam nay", "month", date(2026, 1, 1), date(2026, 12, 31), "year"),
    ("nam ngoai", "month", date(2025, 1, 1), date(2025, 12, 31), "year"),
    ("thang 6", "week", date(2026, 6, 1), date(2026, 6, 30), "month"),
    ("tháng 6 năm 2025", "month", date(2025, 6, 1), date(2025, 6, 30), "month"),
    ("11", "month", date(2026, 11, 1), date(2026, 11, 30), "month"),
    ("47", "week", date(2026, 11, 16), date(2026, 11, 22), "week"),
    ("tuan 47", "month", date(2026, 11, 16), date(2026, 11, 22), "week"),
    ("2026-W53", "month", date(2026, 12, 28), date(2027, 1, 3), "week"),
    ("truoc", "week", date(2026, 11, 23), date(2026, 11, 29), "week"),
    ("quy truoc", "month", date(2026, 7, 1), date(2026, 9, 30), "quarter"),
    ("1/11 - 15/11", "month", date(2026, 11, 1), date(2026, 11, 15), "range"),
    ("tu 1/11 den 15/11", "month", date(2026, 11, 1), date(2026, 11, 15), "range"),
    ("02/12/2026", "month", date(2026, 12, 2), date(2026, 12, 2), "range"),  # one day
    ("11/2026", "week", date(2026, 11, 1), date(2026, 11, 30), "month"),  # a month, even after /tuan
    ("47/2026", "week", date(2026, 11, 16), date(2026, 11, 22), "week"),  # no month 47: the week
    ("t6", "month", date(2026, 6, 1), date(2026, 6, 30), "month"),
    ("quí 2", "month", date(2026, 4, 1), date(2026, 6, 30), "quarter"),
    ("6 thang dau nam nay", "month", date(2026, 1, 1), date(2026, 6, 30), "half"),
])
def test_periods_are_read_by_name_without_tone_marks(typed, default, start, end, kind):
    period = periods.parse(typed, TODAY, default=default)
    assert (period.start, period.end, period.kind) == (start, end, kind)
    assert period.ytd_start == date(end.year, 1, 1)  # "Từ đầu năm" is 01/01 of the year of its last day


@pytest.mark.parametrize(("typed", "default", "start", "end"), [
    ("53", "week", date(2026, 12, 28), date(2027, 1, 3)),  # the week the digest just titled 53/2026
    ("52", "week", date(2026, 12, 21), date(2026, 12, 27)),
    ("12", "month", date(2026, 12, 1), date(2026, 12, 31)),
    ("quy 4", "month", date(2026, 10, 1), date(2026, 12, 31)),
    ("6 thang cuoi nam", "month", date(2026, 7, 1), date(2026, 12, 31)),
    ("1/11 den 15/11", "month", date(2026, 11, 1), date(2026, 11, 15)),
    ("1", "month", date(2027, 1, 1), date(2027, 1, 31)),  # January itself is under way
])
def test_in_early_january_a_period_without_a_year_is_the_one_just_past(typed, default, start, end):
    period = periods.parse(typed, date(2027, 1, 4), default=default)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("typed", ["quy 5", "thang 13", "5o", "6 thang giua nam", "nam 20266", "tuan 54"])
def test_a_period_that_does_not_exist_is_not_guessed(typed):
    assert periods.parse(typed, TODAY) is None


def test_the_province_reporting_year_is_read_when_configured():
    # [reporting] year_starts = "15/12": reporting year 2026 is 15/12/2025 – 14/12/2026, counted as its own year.
    p = periods.parse("nam bao cao 2026", TODAY, reporting_start=(15, 12))
    assert (p.start, p.end, p.kind, p.ytd_start) == (date(2025, 12, 15), date(2026, 12, 14), "reporting_year",
                                                     date(2025, 12, 15))
    assert periods.parse("năm báo cáo", date(2026, 12, 20), reporting_start=(15, 12)).end == date(2027, 12, 14)
    # Without it, the reporting year is the calendar year.
    assert periods.parse("nam bao cao 2026", TODAY).kind == "year"
    assert render.heading("vi", p, "UBND xã Xuân Dương") == \
        "SỐ LIỆU NĂM BÁO CÁO 2026 (15/12/2025 – 14/12/2026) — UBND xã Xuân Dương"


def test_titles_write_the_month_as_decree_30_does():
    assert render.title("vi", stats.month_period(2026, 6)) == "SỐ LIỆU THÁNG 6/2026"
    assert render.title("vi", stats.month_period(2027, 1)) == "SỐ LIỆU THÁNG 01/2027"
    assert render.heading("vi", stats.month_period(2026, 11), "X", date(2026, 11, 30)) == \
        "SỐ LIỆU THÁNG 11/2026 (01/11 – 30/11/2026) — X"


def test_the_reporting_year_comes_from_the_config(tmp_path):
    from core.config import ConfigError, load_config

    base = open("config.toml", encoding="utf-8").read()
    good = tmp_path / "good.toml"
    good.write_text(base.replace('year_starts = "01/01"', 'year_starts = "15/12"'), encoding="utf-8")
    assert load_config(good).reporting_start == (15, 12)
    bad = tmp_path / "bad.toml"
    bad.write_text(base.replace('year_starts = "01/01"', 'year_starts = "31/02"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="reporting.year_starts"):
        load_config(bad)


# --------------------------------------------------------------------------- the data set

# Reporters: A village head, B and D of the Women's Union, C of the Youth Union, E of the Farmers' Union.
PEOPLE = {"A": "village_head", "B": "womens_union", "C": "youth_union", "D": "womens_union", "E": "farmers_union"}
REPORTS = [
    # ref, who, village, held on, total, men, women, campaign marked
    ("BC-2026-0001", "A", "t01", date(2026, 3, 8), 40, 10, 30, "women_day"),
    ("BC-2026-0002", "B", "t02", date(2026, 3, 8), 60, None, None, None),  # in 8/3, not marked; not counted
    ("BC-2026-0003", "B", "t01", date(2026, 6, 10), 80, 30, 50, "dv_month"),
    ("BC-2026-0004", "C", "t03", date(2026, 6, 28), 50, 20, 30, "dv_month"),
    ("BC-2026-0005", "A", "t02", date(2026, 6, 15), 30, 11, 19, None),  # in June, not marked
    ("BC-2026-0006", "A", "t01", date(2026, 9, 5), 25, 10, 15, None),
    ("BC-2026-0007", "C", "t03", date(2026, 12, 29), 45, 15, 30, None),  # week 53, 2026 side
    ("BC-2027-0001", "B", "t01", date(2027, 1, 2), 35, 5, 30, None),  # week 53, 2027 side
]
CASES = [
    ("HS-2026-0001", "domestic", [("new", local(2026, 2, 10)), ("verifying", local(2026, 2, 12)),
                                  ("confirmed_dv", local(2026, 2, 20)), ("handling", local(2026, 3, 1)),
                                  ("handled", local(2026, 7, 15))]),
    ("HS-2026-0002", "domestic", [("new", local(2026, 6, 5)), ("verifying", local(2026, 6, 6)),
                                  ("not_dv", local(2026, 6, 20))]),
    ("HS-2026-0003", "sexual_abuse", [("new", local(2026, 5, 2)), ("verifying", local(2026, 5, 3)),
                                      ("confirmed_dv", local(2026, 8, 10))]),
    ("HS-2026-0004", "trafficking", [("new", local(2026, 10, 1)), ("verifying", local(2026, 10, 2)),
                                     ("confirmed_dv", local(2027, 1, 3))]),
    ("HS-2026-0005", "domestic", [("new", local(2026, 11, 10)), ("confirmed_dv", local(2026, 11, 20))]),
    ("HS-2026-0006", "domestic", [("new", local(2026, 12, 30)), ("verifying", local(2027, 1, 2))]),
]


async def seed(app) -> None:
    async with app.sessions() as s, s.begin():
        ids = {}
        for who, org in PEOPLE.items():
            p = await create_person(s, now=app.clock.now(), name=who, commune_id="xuanduong", roles=["reporter"],
                                    villages=["t01"], org=org, lang="vi")
            ids[who] = p.id
        for user_id, roles in (("office", ["office"]),):
            p = await create_person(s, now=app.clock.now(), name=user_id, commune_id="xuanduong", roles=roles,
                                    villages=[], org=None, lang="vi")
            p.phone_asked = True
            await attach_identity(s, p.id, channel="fake", account="test", external_id=user_id, chat_id=user_id,
                                  display_name=user_id, now=app.clock.now())
        for ref, who, village, held, total, male, female, campaign in REPORTS:
            r = Report(ref=ref, commune_id="xuanduong", village_id=village, person_id=ids[who], org=PEOPLE[who],
                       held_on=held, format="meeting", attendees_total=total, attendees_male=male,
                       attendees_female=female, campaign=campaign, created_at=local(held.year, held.month, held.day))
            s.add(r)
            await s.flush()
            s.add(ReportTopic(report_id=r.id, topic="gender_equality"))
        for ref, kind, history in CASES:
            c = Case(ref=ref, commune_id="xuanduong", reporter_id=ids["A"], urgent=False, created_at=history[0][1],
                     confirmed_at=history[0][1], updated_at=history[-1][1], status=history[-1][0], police_routed=False,
                     village_id="t01", kind=kind, people_count=1, perpetrator_sex="male", perpetrator_age="18_59",
                     repeat="first", consent="agreed", occurred_on=history[0][1].date())
            s.add(c)
            await s.flush()
            s.add(CasePerson(case_id=c.id, position=1, sex="female", age_group="16_59"))
            for status, at in history:
                s.add(CaseStatusChange(case_id=c.id, status=status, at=at))


async def figures_of(app, config, period, now):
    async with app.sessions() as s:
        return await stats.figures(s, config.communes[0], period, now=now)


def text_of(config, f, today) -> str:
    return render.digest_text("vi", f, config.communes[0].name, today=today, targets=config.targets)


def flows(f) -> dict:
    return {k: (v.flow.received, v.flow.confirmed, v.flow.not_of_kind, v.flow.verifying, v.flow.handled)
            for k, v in f.kinds.items()}


# --------------------------------------------------------------------------- the year, its halves, a quarter

async def test_the_year_2026_by_hand(app, config, clock):
    await seed(app)
    year = stats.year_period(2026)
    f = await figures_of(app, config, year, local(2027, 1, 4, 8))
    # Reports 1–7: 40 + 60 + 80 + 50 + 30 + 25 + 45 = 330; men 10 + 30 + 20 + 11 + 10 + 15 = 96;
    # women 30 + 50 + 30 + 19 + 15 + 30 = 174 of the 270 counted by sex (report 2's 60 not counted).
    o = f.outreach
    assert (o.sessions, o.total, o.male, o.female, o.counted) == (7, 330, 96, 174, 270)
    assert (f.ytd.sessions, f.ytd.total) == (7, 330)  # the year is its own year to date
    # Status at 31/12 — DV: received 0001, 0002, 0005, 0006; confirmed 0001 (Feb) and 0005 (Nov); not DV
    # 0002; handled 0001 (July); 0006 still being verified. GBV 0003 received and confirmed. Trafficking
    # 0004 received, confirmed only on 03/01/2027: still being verified at the year's end.
    assert flows(f) == {"domestic": (4, 2, 1, 1, 1), "sexual_abuse": (1, 1, 0, 0, 0), "trafficking": (1, 0, 0, 1, 0)}
    dv = f.kinds["domestic"].flow_ytd
    assert (dv.received, dv.verifying, dv.confirmed, dv.handled, dv.not_of_kind, dv.ever_confirmed) == (4, 1, 1, 1, 1, 2)
    # Every campaign of the year, in date order, each with its own totals.
    got = [(c.code, c.closed, c.tagged.sessions, c.tagged.total, c.held.sessions, c.held.total) for c in f.campaigns]
    assert got == [
        ("women_day", True, 1, 40, 2, 100),  # 8/3: reports 1 (marked) and 2
        ("dv_month", True, 2, 130, 3, 160),  # June: 3 and 4 marked (80 + 50), 5 not (30)
        ("trafficking_day", True, 0, 0, 0, 0),
        ("vn_women_day", True, 0, 0, 0, 0),
        ("gender_month", True, 0, 0, 0, 0),
    ]
    # By organisation: village head A (1, 5, 6: 40 + 30 + 25), Women's Union B (2, 3: 60 + 80; D never
    # reported), Youth Union C (4, 7: 50 + 45), Farmers' Union E enrolled, no report.
    org = {k: (g.reporting, g.reporters, g.outreach.sessions, g.outreach.total) for k, g in f.by_org.items()}
    assert org == {"village_head": (1, 1, 3, 95), "womens_union": (1, 2, 2, 140), "youth_union": (1, 1, 2, 95),
                   "farmers_union": (0, 1, 0, 0)}
    # Reporters enrolled after a period's end are not counted as enrolled in it (they joined on 25/11/2026).
    earlier = await figures_of(app, config, stats.year_period(2025), local(2027, 1, 4, 8))
    assert earlier.by_org == {}
    # June: reports 3 (B, 80), 4 (C, 50) and 5 (A, 30), filed by people who enrolled only on 25/11.
    # Who reported counts among the reporters, so no line reads "1/0 reporters"; E is not counted.
    june = await figures_of(app, config, stats.month_period(2026, 6), local(2027, 1, 4, 8))
    org = {k: (g.reporting, g.reporters, g.outreach.sessions, g.outreach.total) for k, g in june.by_org.items()}
    assert org == {"village_head": (1, 1, 1, 30), "womens_union": (1, 1, 1, 80), "youth_union": (1, 1, 1, 50)}

    text = text_of(config, f, date(2027, 1, 4))
    assert text.startswith("SỐ LIỆU NĂM 2026 (01/01 – 31/12/2026) — UBND xã Xuân Dương")
    assert "7 buổi, 330 lượt người tham dự: nam 96, nữ 174/270 lượt được đếm theo giới (64,4%), 60 lượt không " \
           "đếm theo giới" in text
    assert ("Ngày Quốc tế Phụ nữ (08/3/2026), kết quả: buổi được đánh dấu thuộc đợt: 1 buổi, 40 lượt "
            "người tham dự: nam 10, nữ 30/40 lượt được đếm theo giới (75,0%); tất cả các buổi tổ chức trong thời gian "
            "đợt: 2 buổi, 100 lượt người tham dự: nam 10, nữ 30/40 lượt được đếm theo giới (75,0%), 60 lượt không đếm "
            "theo giới") in text
    assert ("Tháng hành động quốc gia về phòng, chống bạo lực gia đình (01/6/2026 – 30/6/2026), kết quả: buổi được "
            "đánh dấu thuộc đợt: 2 buổi, 130 lượt người tham dự: nam 50, nữ 80/130 lượt được đếm theo giới (61,5%)") in text
    assert "đến nay" not in text
    assert "• Trưởng thôn: 1/1 người báo cáo · 3 buổi, 95 lượt người" in text
    assert "• Hội Liên hiệp Phụ nữ: 1/2 người báo cáo · 2 buổi, 140 lượt người" in text
    assert "• Đoàn Thanh niên: 1/1 người báo cáo · 2 buổi, 95 lượt người" in text
    assert "• Hội Nông dân: 0/1 người báo cáo · 0 buổi, 0 lượt người" in text
    assert "tiếp nhận 4; xác định là bạo lực gia đình 2; không phải bạo lực gia đình 1; đang xác minh 1; đã xử lý 1" \
        in text
    paragraph = render.paragraph("vi", f)
    assert paragraph.startswith("Trong năm, trên địa bàn xã đã tổ chức 7 buổi tuyên truyền")
    assert "lũy kế từ đầu năm" not in paragraph  # the year is its own year to date
    assert recomputable(text) >= 7


async def test_the_two_halves_and_a_quarter_by_hand(app, config):
    await seed(app)
    now = local(2027, 1, 4, 8)
    first = await figures_of(app, config, stats.half_period(2026, 1), now)
    # Reports 1–5: 40 + 60 + 80 + 50 + 30 = 260; men 10 + 30 + 20 + 11 = 71; women 30 + 50 + 30 + 19 = 129
    # of the 200 counted by sex.
    o = first.outreach
    assert (o.sessions, o.total, o.male, o.female, o.counted) == (5, 260, 71, 129, 200)
    # Status at 30/06 — DV: 0001 confirmed (Feb), 0002 not DV (June); GBV 0003 still being verified.
    assert flows(first) == {"domestic": (2, 1, 1, 0, 0), "sexual_abuse": (1, 0, 0, 1, 0), "trafficking": (0, 0, 0, 0, 0)}
    assert [c.code for c in first.campaigns] == ["women_day", "dv_month"]
    text = text_of(config, first, date(2027, 1, 4))
    assert text.startswith("SỐ LIỆU 6 THÁNG ĐẦU NĂM 2026 (01/01 – 30/6/2026)")
    assert "nữ 129/200 lượt được đếm theo giới (64,5%), 60 lượt không đếm theo giới" in text
    assert render.paragraph("vi", first).startswith("Trong 6 tháng đầu năm, trên địa bàn xã đã tổ chức 5 buổi")
    tr = text.split("3.3 ")[1].split("4. ")[0]
    assert "Không có vụ việc." in tr

    second = await figures_of(app, config, stats.half_period(2026, 2), now)
    # Reports 6 and 7: 25 + 45 = 70; men 10 + 15 = 25; women 15 + 30 = 45 of 70. Year to date: the year.
    o = second.outreach
    assert (o.sessions, o.total, o.male, o.female, o.counted) == (2, 70, 25, 45, 70)
    assert (second.ytd.sessions, second.ytd.total) == (7, 330)
    # DV: received 0005 and 0006; 0005 confirmed (Nov), 0001 handled (July); 0006 still verifying.
    # GBV: 0003 confirmed (Aug). Trafficking: 0004 received (Oct), still verifying at 31/12.
    assert flows(second) == {"domestic": (2, 1, 0, 1, 1), "sexual_abuse": (0, 1, 0, 0, 0),
                             "trafficking": (1, 0, 0, 1, 0)}
    text = text_of(config, second, date(2027, 1, 4))
    assert text.startswith("SỐ LIỆU 6 THÁNG CUỐI NĂM 2026 (01/7 – 31/12/2026)")
    assert "nữ 45/70 lượt được đếm theo giới (64,3%)" in text
    assert "; lũy kế từ đầu năm tổ chức 7 buổi với 330 lượt người tham dự" in render.paragraph("vi", second)

    q2 = await figures_of(app, config, stats.quarter_period(2026, 2), now)
    # Reports 3, 4, 5: 80 + 50 + 30 = 160; men 30 + 20 + 11 = 61; women 50 + 30 + 19 = 99 of 160.
    o = q2.outreach
    assert (o.sessions, o.total, o.male, o.female) == (3, 160, 61, 99)
    assert text_of(config, q2, date(2027, 1, 4)).startswith("SỐ LIỆU QUÝ II/2026 (01/4 – 30/6/2026)")
    assert "nữ 99/160 lượt được đếm theo giới (61,9%)" in text_of(config, q2, date(2027, 1, 4))


# --------------------------------------------------------------------------- the week that crosses 31/12

async def test_the_week_crossing_the_new_year_closes_2026(app, config):
    await seed(app)
    w53 = stats.week_period(2026, 53)
    f = await figures_of(app, config, w53, local(2027, 1, 4, 8))
    # The week: reports 7 (29/12) and 8 (02/01): 45 + 35 = 80; men 15 + 5 = 20; women 30 + 30 = 60 of 80.
    o = f.outreach
    assert (o.sessions, o.total, o.male, o.female, o.counted) == (2, 80, 20, 60, 80)
    # Year to date from 01/01/2027: report 8 alone (35: 5 men, 30 women).
    assert (f.ytd.sessions, f.ytd.total, f.ytd.female, f.ytd.counted) == (1, 35, 30, 35)
    assert "nam 0" not in text_of(config, await figures_of(app, config, stats.week_period(2027, 2),
                                                           local(2027, 1, 11, 8)), date(2027, 1, 11))
    # The week's cases: DV 0006 received (30/12), still verifying; trafficking 0004 identified on 03/01.
    assert flows(f)["domestic"] == (1, 0, 0, 1, 0) and flows(f)["trafficking"] == (0, 1, 0, 0, 0)
    # 2026's final totals as of 31/12 (the year test's figures).
    y = f.closed_year
    assert (y.year, y.outreach.sessions, y.outreach.total, y.outreach.female, y.outreach.counted) == (2026, 7, 330,
                                                                                                       174, 270)
    dv, tr = y.flows["domestic"], y.flows["trafficking"]
    assert (dv.received, dv.verifying, dv.confirmed, dv.handled, dv.not_of_kind) == (4, 1, 1, 1, 1)
    assert (tr.received, tr.verifying, tr.confirmed) == (1, 1, 0)
    text = text_of(config, f, date(2027, 1, 4))
    assert text.startswith("BẢN TIN TỔNG HỢP TUẦN 53/2026 (28/12/2026 – 03/01/2027) — UBND xã Xuân Dương")
    assert "Từ đầu năm (01/01/2027 – 03/01/2027): 1 buổi, 35 lượt người tham dự: nam 5, nữ 30/35 lượt được đếm " \
           "theo giới (85,7%)" in text
    assert "Tổng kết năm 2026 (01/01/2026 – 31/12/2026)" in text
    assert ("Vụ việc bạo lực gia đình: tiếp nhận 4 = đang xác minh 1 + xác định là bạo lực gia đình, đang xử lý 1 "
            "+ đã xử lý 1 + không phải bạo lực gia đình 1 (trạng thái tại ngày 31/12)") in text
    tr_section = text.split("3.3 ")[1].split("Tổng kết năm")[0]
    assert "xác định là mua bán người 1" in tr_section  # identified this week, though received in 2026
    assert recomputable(text) >= 4


# --------------------------------------------------------------------------- in the chat and in the files

async def test_a_campaign_under_way_says_so_far_and_one_not_started_is_not_listed(app, config):
    await seed(app)
    december = stats.month_period(2026, 12)
    f = await figures_of(app, config, december, local(2026, 12, 2, 9))
    (c,) = f.campaigns
    assert (c.code, c.upto, c.closed) == ("gender_month", date(2026, 12, 2), False)
    text = text_of(config, f, date(2026, 12, 2))
    assert text.startswith("SỐ LIỆU THÁNG 12/2026 (01/12 – 31/12/2026, tính đến ngày 02/12/2026)")
    assert "Tháng hành động vì bình đẳng giới (15/11/2026 – 15/12/2026), tính đến ngày 02/12/2026:" in text
    assert "kết quả" not in text
    # In the first days of 2027 no campaign of 2027 has started yet: none is listed.
    assert (await figures_of(app, config, stats.year_period(2027), local(2027, 1, 4, 8))).campaigns == []


async def test_the_office_names_periods_in_the_chat(app, config, clock):
    await seed(app)
    clock.set(local(2027, 1, 4, 9))
    office = User(app, "office")
    (year,) = await office.say("/thang nam 2026")
    assert year.startswith("SỐ LIỆU NĂM 2026 (01/01 – 31/12/2026) — UBND xã Xuân Dương")
    assert "7 buổi, 330 lượt người tham dự" in year and "kết quả" in year
    (this_year,) = await office.say("/thang nam nay")
    # Not over yet: "tính đến ngày 04/01/2027"; report 8 alone so far.
    assert this_year.startswith("SỐ LIỆU NĂM 2027 (01/01 – 31/12/2027, tính đến ngày 04/01/2027) — ")
    assert "1 buổi, 35 lượt người tham dự" in this_year
    (half,) = await office.say("thang 6 thang dau nam 2026")  # no slash, no tone marks
    assert half.startswith("SỐ LIỆU 6 THÁNG ĐẦU NĂM 2026 (01/01 – 30/6/2026) — ")
    (q,) = await office.say("/tuan quy 2/2026")
    assert q.startswith("SỐ LIỆU QUÝ II/2026")
    (future,) = await office.say("/thang quy 2 2027")
    assert future == vi("The period {start} – {end} has not started yet: there are no figures for it.",
                        start="01/4/2027", end="30/6/2027")
    (bad,) = await office.say("/thang quy 5")
    assert bad.startswith(vi("I could not read “{text}” as a period.", text="quy 5"))
    assert "/thang quy 2" in bad and "/thang 6 thang cuoi nam" in bad


async def test_the_workbook_and_the_csv_of_the_year(app, config):
    await seed(app)
    year = stats.year_period(2026)
    f = await figures_of(app, config, year, local(2027, 1, 4, 8))
    commune = config.communes[0]
    names = {(commune.id, v.id): v.name for v in commune.villages}
    async with app.sessions() as s:
        rows = await stats.report_rows(s, [commune.id], year.start, year.end)
        others = await files.other_answers(s, [commune.id], year.start, year.end)
    data = files.workbook("vi", rows, names, figures=f, commune=commune, others=others, now=f.as_of)
    book = load_workbook(io.BytesIO(data), data_only=True)
    form = book.worksheets[0]

    def v(section, stt, col=4):
        return form.cell(row_of(form, section, stt), col).value

    assert (v("I", "1"), v("I", "2"), v("I", "2.1.2"), v("I", "2.2")) == (7, 330, 174, 60)
    # DV: received 4; the official total of confirmed cases counts 0001 (since handled) and 0005: 2, in
    # the period and year to date alike; not DV 1; still verifying 1; handled 1.
    assert [v("II", s) for s in ("1", "2", "3", "4", "5")] == [4, 2, 1, 1, 1]
    assert [v("II", s, 5) for s in ("1", "2", "3", "4", "5")] == [4, 2, 1, 1, 1]
    orgs = [r for r in book[vi("By organisation")].iter_rows(min_row=2, values_only=True)]
    assert orgs[0][:5] == ("Trưởng thôn", 1, 1, 3, 95)
    assert orgs[1][:5] == ("Hội Liên hiệp Phụ nữ", 2, 1, 2, 140)
    assert ("Hội Nông dân", 1, 0, 0, 0) in [r[:5] for r in orgs] and len(orgs) == 8  # every organisation, zeros too
    camp = [r for r in book[vi("Campaigns")].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], r[5], r[6], r[7], r[8]) for r in camp[:2]] == [
        ("Ngày Quốc tế Phụ nữ", 1, 40, 2, 100),
        ("Tháng hành động quốc gia về phòng, chống bạo lực gia đình", 2, 130, 3, 160)]
    assert len(camp) == 5 and all(r[4] == "Có" for r in camp)
    table = files.report_csv("vi", rows, names, others=others)
    head, *body = list(csv.reader(io.StringIO(table.decode("utf-8-sig"))))
    # In the order held: report 5 (15/6) before report 4 (28/6).
    assert [r[1] for r in body] == ["BC-2026-0001", "BC-2026-0002", "BC-2026-0003", "BC-2026-0005", "BC-2026-0004",
                                    "BC-2026-0006", "BC-2026-0007"]
    col = head.index(vi("Campaign"))
    assert [r[col] for r in body][:3] == [vi("International Women's Day 8/3"), "",
                                          vi("Action Month against Domestic Violence (June, Family Day 28/6)")]


async def test_a_session_marked_for_a_campaign_outside_its_days_counts_as_marked(app, config):
    """A reporter may mark a session held on 31/07 as part of the Day against Human Trafficking
    (30/7): it counts among the sessions marked, not among those held in its days."""
    await seed(app)
    async with app.sessions() as s, s.begin():
        s.add(Report(ref="BC-2026-0099", commune_id="xuanduong", village_id="t04", person_id=1, org="village_head",
                     held_on=date(2026, 7, 31), format="meeting", attendees_total=25, campaign="trafficking_day",
                     created_at=local(2026, 7, 31)))
    f = await figures_of(app, config, stats.year_period(2026), local(2027, 1, 4, 8))
    day = next(c for c in f.campaigns if c.code == "trafficking_day")
    assert (day.tagged.sessions, day.tagged.total, day.held.sessions) == (1, 25, 0)


async def test_the_week_53_workbook_closes_2026_too(app, config):
    await seed(app)
    f = await figures_of(app, config, stats.week_period(2026, 53), local(2027, 1, 4, 8))
    commune = config.communes[0]
    data = files.workbook("vi", [], {}, figures=f, commune=commune, now=f.as_of)
    ws = load_workbook(io.BytesIO(data), data_only=True)["Năm 2026"]
    rows = {(r[0], r[1]): r[2] for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}
    # The year test's figures: 7 sessions, 330 attendances, 60 not counted; DV received 4, still
    # verifying 1 (0006), confirmed 2 (0001 since handled, 0005), handled 1, not DV 1.
    assert rows[("Số buổi tuyên truyền", "Buổi")] == 7 and rows[("Không đếm theo giới", "Lượt người")] == 60
    dv = [r[2] for r in ws.iter_rows(min_row=2, values_only=True)][7:12]
    assert dv == [4, 1, 2, 1, 1]
