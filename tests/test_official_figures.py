"""Figures an officer can sign (issue 12): a hand-computed data set whose expected figures are written
here by hand, checked in the digest text, the paragraph and /tuan; every printed percentage is
recomputable from the numbers printed beside it; kinds of case are never mixed; small cells."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers.office import render
from storage import stats
from storage.models import Alert, Case, CaseCode, CasePerson, CaseStatusChange, Report, ReportTopic
from tests.fakechannel import User
from tests.helpers import vi
from tests.test_digest import person

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
W48 = stats.week_period(2026, 48)  # 23/11 – 29/11/2026


def local(y, m, d, h=10, mi=0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ).astimezone(UTC)


REPORTS = [
    # ref, village, held on, format, total, men, women
    ("BC-2026-0001", "t01", date(2026, 11, 24), "meeting", 100, 28, 72),
    ("BC-2026-0002", "t02", date(2026, 11, 25), "household", 32, 8, 24),
    ("BC-2026-0003", "t03", date(2026, 11, 26), "loudspeaker", 68, None, None),  # not counted by sex
    ("BC-2026-0004", "t01", date(2026, 3, 10), "meeting", 50, 20, 30),  # earlier this year
]

# ref, kind, [(status, when)], people [(sex, age, flags)], perpetrator (sex, age), repeat, forms, measures,
# support, counselled, needs support, urgent (acknowledged?)
CASES = [
    ("HS-2026-0001", "domestic",
     [("new", local(2026, 3, 2)), ("verifying", local(2026, 3, 5)), ("confirmed_dv", local(2026, 3, 10)),
      ("handling", local(2026, 3, 12)), ("handled", local(2026, 11, 24))],
     [("female", "16_59", ("disabled",))], ("male", "18_59"), "repeat", ("psychological", "physical"),
     ("stop_order", "community_service"), ("medical", "counselling"), "yes", None, None),
    ("HS-2026-0005", "domestic",
     [("new", local(2026, 11, 24)), ("verifying", local(2026, 11, 25)), ("confirmed_dv", local(2026, 11, 27))],
     [("female", "60p", ("disabled",)), ("male", "u16", ())], ("female", "60p"), "first", ("economic",),
     ("mediation",), ("none",), "no", None, None),
    ("HS-2026-0006", "domestic",
     [("new", local(2026, 11, 25)), ("verifying", local(2026, 11, 26)), ("not_dv", local(2026, 11, 28))],
     [("female", "16_59", ())], ("male", "18_59"), "repeat", ("physical",), ("stop_order",), ("medical",), "yes",
     None, None),
    ("HS-2026-0007", "domestic", [("new", local(2026, 11, 28))],
     [("female", "16_59", ("pregnant",)), ("male", "u16", ())], ("male", "16_17"), "repeat", ("physical",),
     ("investigation",), ("legal",), "yes", None, True),
    ("HS-2026-0008", "sexual_abuse", [("new", local(2026, 11, 26)), ("verifying", local(2026, 11, 27))],
     [("female", "u16", ())], ("male", "18_59"), "first", ("sexual",), ("none",), ("counselling", "legal"),
     "unknown", None, False),
    ("HS-2026-0009", "trafficking", [("new", local(2026, 11, 27)), ("verifying", local(2026, 11, 29))],
     [("female", "16_59", ()), ("female", "16_59", ())], ("male", "18_59"), "first", ("unclear",), (),
     ("shelter",), None, "yes", None),
    ("HS-2026-0002", "trafficking",
     [("new", local(2026, 6, 15)), ("verifying", local(2026, 6, 16)), ("confirmed_dv", local(2026, 6, 20)),
      ("handling", local(2026, 6, 21))],
     [("male", "16_59", ())], ("male", "18_59"), "first", ("unclear",), (), ("none",), None, "yes", None),
]


async def seed(app) -> None:
    reporter = await person(app, "head", ["reporter"], villages=["t01"], name="Hoàng Văn Ba")
    async with app.sessions() as s, s.begin():
        for ref, village, held, fmt, total, male, female in REPORTS:
            r = Report(ref=ref, commune_id="xuanduong", village_id=village, person_id=reporter, org="village_head",
                       held_on=held, format=fmt, attendees_total=total, attendees_male=male, attendees_female=female,
                       created_at=local(held.year, held.month, held.day))
            s.add(r)
            await s.flush()
            s.add(ReportTopic(report_id=r.id, topic="domestic_violence"))
        ids = {}
        for (ref, kind, history, people, perp, repeat, forms, measures, support, counselled, needs,
             urgent) in CASES:
            c = Case(ref=ref, commune_id="xuanduong", reporter_id=reporter, urgent=urgent is not None,
                     created_at=history[0][1], confirmed_at=history[0][1], updated_at=history[-1][1],
                     status=history[-1][0], police_routed=True, village_id="t01", kind=kind,
                     people_count=len(people), perpetrator_sex=perp[0], perpetrator_age=perp[1], repeat=repeat,
                     perpetrator_counselled=counselled, needs_support=needs, consent="agreed",
                     occurred_on=history[0][1].date())
            s.add(c)
            await s.flush()
            ids[ref] = c.id
            for status, at in history:
                s.add(CaseStatusChange(case_id=c.id, status=status, at=at))
            for fld, codes in (("forms", forms), ("measures", measures), ("support", support)):
                for code in codes:
                    s.add(CaseCode(case_id=c.id, field=fld, code=code))
            for i, (sex, age, flags) in enumerate(people, 1):
                s.add(CasePerson(case_id=c.id, position=i, sex=sex, age_group=age, disabled="disabled" in flags,
                                 pregnant_or_nursing="pregnant" in flags))
            if urgent is not None:
                s.add(Alert(case_id=c.id, kind="urgent", recipient_id=reporter, role="office",
                            created_at=c.created_at, acknowledged_by=reporter if urgent else None,
                            acknowledged_at=c.created_at if urgent else None))
        # HS-2026-0005 is of the same household as HS-2026-0001 (marked in /capnhat).
        (await s.get(Case, ids["HS-2026-0005"])).household_case_id = ids["HS-2026-0001"]


NOW = local(2026, 11, 30, 8, 5)


async def week_figures(app, config):
    async with app.sessions() as s:
        return await stats.figures(s, config.communes[0], W48, now=NOW)


async def test_the_hand_computed_week_in_figures(app, config):
    await seed(app)
    f = await week_figures(app, config)
    # Outreach: 100 + 32 + 68 = 200 attendances; women 72 + 24 = 96 of the 132 counted by sex; 68 not counted.
    o = f.outreach
    assert (o.sessions, o.total, o.male, o.female, o.counted) == (3, 200, 36, 96, 132)
    # Year to date: one more session in March (50: 20 men, 30 women).
    assert (f.ytd.sessions, f.ytd.total, f.ytd.female, f.ytd.counted) == (4, 250, 126, 182)
    dv, gbv, tr = f.kinds["domestic"], f.kinds["sexual_abuse"], f.kinds["trafficking"]
    # This week: received 0005, 0006, 0007; 0005 confirmed; 0006 not DV; 0001 handled; 0007 still new.
    assert vars(dv.flow) == dict(received=3, confirmed=1, not_of_kind=1, verifying=1, handled=1, ever_confirmed=1)
    # The year: each of the four DV cases once, by its latest status; the official total of confirmed
    # cases also counts 0001, confirmed in March and handled since.
    assert vars(dv.flow_ytd) == dict(received=4, confirmed=1, not_of_kind=1, verifying=1, handled=1, ever_confirmed=2)
    assert vars(gbv.flow) == dict(received=1, confirmed=0, not_of_kind=0, verifying=1, handled=0, ever_confirmed=0)
    assert vars(tr.flow) == dict(received=1, confirmed=0, not_of_kind=0, verifying=1, handled=0, ever_confirmed=0)
    assert vars(tr.flow_ytd) == dict(received=2, confirmed=1, not_of_kind=0, verifying=1, handled=0, ever_confirmed=1)
    # DV breakdowns: the week's cases 0005 and 0007 (0006 is not DV).
    c = dv.period
    assert c.new == 2 and (c.households, c.linked) == (2, 1)
    assert c.people == {("female", "60p"): 1, ("male", "u16"): 2, ("female", "16_59"): 1}
    assert c.flags == {"disabled": 1, "pregnant": 1}
    assert c.perpetrators == {"female": 1, "male": 1} and c.perpetrator_ages == {"60p": 1, "16_17": 1}
    assert c.repeat_adults == 0  # 0007 is repeated but the person is 16–17
    assert c.measures == {"mediation": 1, "investigation": 1}
    assert c.support == {"none": 2, "legal": 2}
    assert gbv.period.people == {("female", "u16"): 1} and tr.period.people == {("female", "16_59"): 2}
    # NQ 28, year to date. 2a: people of 0001 (1, helped), 0005 (2, none), 0007 (2, helped), 0008 (1, helped).
    assert (f.target_2a.part, f.target_2a.whole, f.target_2a.left_out) == (4, 6, 0)
    # 2b: 0001 yes, 0005 no; 0007 referred to investigation and 0008 "không rõ" are out of the base.
    assert (f.target_2b.part, f.target_2b.whole, f.target_2b.left_out) == (1, 2, 2)
    # 3: the victims who need support: 0009 (2, sheltered), 0002 (1, none).
    assert (f.target_3.part, f.target_3.whole) == (2, 3)
    assert (f.cases.new, f.cases.urgent, f.cases.urgent_acknowledged) == (5, 2, 1)
    assert (f.open_cases, f.stale_cases) == (7, 1)


async def test_the_hand_computed_week_in_the_digest_and_the_paragraph(app, config):
    await seed(app)
    f = await week_figures(app, config)
    text = render.digest_text("vi", f, config.communes[0].name, today=date(2026, 11, 30), targets=config.targets)
    assert text.splitlines()[1] == "Số liệu tính đến 08:05 ngày 30/11/2026"
    assert "3 buổi, 200 lượt người tham dự: nam 36, nữ 96/132 lượt được đếm theo giới (72,7%), 68 lượt không " \
           "đếm theo giới" in text
    assert "4 buổi, 250 lượt người tham dự: nam 56, nữ 126/182 lượt được đếm theo giới (69,2%), 68 lượt không " \
           "đếm theo giới" in text
    assert ("Trong tuần, trên địa bàn xã đã tổ chức 3 buổi tuyên truyền về bình đẳng giới, phòng, chống bạo lực gia "
            "đình tại 3/22 thôn với 200 lượt người tham dự, trong đó nữ 96/132 lượt được đếm theo giới (72,7%), 68 "
            "lượt không đếm theo giới") in text
    paragraph = render.paragraph("vi", f)
    assert "3 vụ việc nghi bạo lực gia đình" in paragraph and "1 vụ việc nghi mua bán người" in paragraph
    assert "1 vụ được xác định là bạo lực gia đình" in paragraph
    # Each kind in its own section and words; trafficking never says "bạo lực gia đình" of its people.
    dv = text.split("3.1 ")[1].split("3.2 ")[0]
    gbv = text.split("3.2 ")[1].split("3.3 ")[0]
    tr = text.split("3.3 ")[1].split("4. ")[0]
    assert "Người bị bạo lực gia đình" in dv and "Số hộ có bạo lực gia đình: 2" in dv
    assert "Nam: dưới 16 tuổi 2; từ 16 đến dưới 60 tuổi 0; từ đủ 60 tuổi trở lên 0 — cộng 2" in dv
    assert "Nữ: dưới 16 tuổi 0; từ 16 đến dưới 60 tuổi 1; từ đủ 60 tuổi trở lên 1 — cộng 2" in dv
    assert "tổng 4" in dv and "Thực hiện công việc phục vụ cộng đồng 0" in dv
    assert "xác định là bạo lực gia đình 1; không phải bạo lực gia đình 1; đang xác minh 1; đã xử lý 1" in dv
    assert "Người bị bạo lực trên cơ sở giới, bị xâm hại tình dục, theo giới tính" in gbv
    assert "Người bị bạo lực gia đình" not in gbv and "Người có hành vi bạo lực gia đình" not in gbv
    assert "Nạn nhân và người đang trong quá trình xác định là nạn nhân" in tr and "bạo lực gia đình" not in tr
    assert "Người bị nghi có hành vi mua bán người: theo giới tính Nam 1; Nữ 0 — tổng 1" in tr
    assert "2a." in text and "4/6 (66,7%)" in text and "1/2 (50,0%)" in text and "2/3 (66,7%)" in text
    assert "chỉ tiêu 90% đến năm 2030" in text and "chỉ tiêu 100% đến năm 2030" in text


async def test_the_office_reads_the_same_in_tuan(app, config, clock):
    await seed(app)
    await person(app, "office", ["office"])
    clock.set(NOW)
    (text,) = await User(app, "office").say("/tuan 2026-W48")
    assert "nữ 96/132 lượt được đếm theo giới (72,7%), 68 lượt không đếm theo giới" in text
    assert "Số liệu tính đến 08:05 ngày 30/11/2026" in text and "4/6 (66,7%)" in text


SHARE = re.compile(r"(\d[\d.,]*)/(\d[\d.,]*)[^()\d/]{0,60}\((\d+[.,]\d)%\)")


def recomputable(text: str) -> int:
    """Every "part/base … (pct%)" printed is part/base to one decimal; and every percentage in
    parentheses is the end of such a pattern: none stands without its base."""
    ends = set()
    for m in SHARE.finditer(text):
        part, base, pct = (int(re.sub(r"[.,]", "", m[1])), int(re.sub(r"[.,]", "", m[2])),
                           float(m[3].replace(",", ".")))
        assert round(100 * part / base, 1) == pct, m[0]
        ends.add(m.end())
    bare = [m[0] for m in re.finditer(r"\(\d+(?:[.,]\d)?%\)", text) if m.end() not in ends]
    assert not bare, bare
    return len(ends)


async def test_every_percentage_printed_is_recomputable_from_its_neighbours(app, config, clock):
    await seed(app)
    f = await week_figures(app, config)
    text = render.digest_text("vi", f, config.communes[0].name, today=date(2026, 11, 30))
    assert recomputable(text) >= 6
    assert recomputable(render.digest_text("en", f, config.communes[0].name, today=date(2026, 11, 30))) >= 6
    await person(app, "leader", ["leader"])
    clock.set(NOW)
    (village,) = await User(app, "leader").say("/thon thon 1")
    assert recomputable(village) == 1 and "nữ 102/150 lượt được đếm theo giới (68,0%)" in village


async def test_small_cells_for_readers_outside_the_commune(app, config, clock):
    await seed(app)
    f = await week_figures(app, config)
    text = render.digest_text("vi", f, config.communes[0].name, today=date(2026, 11, 30), small=True)
    tr = text.split("3.3 ")[1].split("4. ")[0]
    assert "tiếp nhận <3" in tr and "tiếp nhận 1" not in tr
    assert "<3/<3" in text and "1/2 (50,0%)" not in text  # no percentage beside a masked count
    recomputable(text)
    await person(app, "province", ["province"], commune=None)
    clock.set(NOW)
    (side,) = await User(app, "province").say("/tuan 2026-W48")
    assert "vụ việc mới 5" in side and "Số liệu tính đến 08:05 ngày 30/11/2026" in side


async def test_the_case_form_asks_a_trafficking_case_in_its_words(app):
    from tests.test_case_form import enrolled

    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await head.press("Thôn 3")
    await head.press(vi("Yesterday"))
    await head.press(vi("A relative or neighbour told me"))
    await head.press(vi("Suspected human trafficking"))
    assert "Nạn nhân đã bị những hình thức bạo lực nào?" in head.last.text
    await head.press(vi("Not yet clear"))
    await head.press(vi("Done"))
    assert "nạn nhân hoặc người đang trong quá trình xác định là nạn nhân" in head.last.text
    await head.say("1")
    assert "Nạn nhân hoặc người đang trong quá trình xác định là nạn nhân thứ 1" in head.last.text
    await head.press(vi("Female"))
    await head.say("20")
    await head.press(vi("Neither"))
    await head.press(vi("Done"))
    assert "người bị nghi có hành vi mua bán người" in head.last.text.lower()


async def test_the_confirming_states_are_worded_by_the_kind_of_case(app, clock):
    await seed(app)
    await person(app, "office", ["office"])
    clock.set(NOW)
    office = User(app, "office")
    await office.say("/capnhat HS-2026-0009")  # suspected trafficking, being verified
    assert office.last.labels[:2] == [vi("Identified as a case of human trafficking"), vi("Not human trafficking")]
    assert office.last.labels[:2] == ["Xác định là mua bán người", "Không phải mua bán người"]
    await office.press("Xác định là mua bán người")
    await office.say("Công an xã đã xác minh")
    done = await office.press(vi("Confirm"))
    assert done[0] == vi("Case {ref} is now: {status}.", ref="HS-2026-0009", status="Xác định là mua bán người")


async def test_the_digest_workbook_for_a_reader_outside_the_commune_hides_small_counts(app, config, clock):
    import io

    from openpyxl import load_workbook

    from handlers.context import Outgoing
    from handlers.office import delivery
    from storage.models import OutboxMessage
    from tests.test_report_form import row_of

    await seed(app)
    f = await week_figures(app, config)
    async with app.sessions() as s:
        made = delivery.Attachments(s, app.services, config.communes[0], f, now=NOW)
        inside, _ = await made.made("vi")
        outside, _ = await made.made("vi", small=True)

    def dv(data: bytes, stt: str):
        ws = load_workbook(io.BytesIO(data), data_only=True).worksheets[0]
        return ws.cell(row_of(ws, "II", stt), 4).value

    # This week's DV: 3 received, 2 households (0005 and 0007; 0001 is linked to 0005's).
    assert (dv(inside, "1"), dv(inside, "6")) == (3, 2)
    assert (dv(outside, "1"), dv(outside, "6")) == (3, "<3")
    # Each reader gets the workbook of their side: the office's link is not the province officer's.
    office = await person(app, "office", ["office"])
    province = await person(app, "province", ["province"], commune=None)
    async with app.sessions() as s, s.begin():
        said = Outgoing(services=app.services, session=s, at=NOW)
        assert await delivery.queue_digest(said, config.communes[0], W48, people=[office, province]) == 2
        await said.send_queued()
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest"))).all()
    texts = {r.person_id: json.loads(app.services.keyring.decrypt(r.payload))["text"] for r in rows}
    link = re.compile(r"/files/\S+")  # the workbook's link comes first, then the chart's
    assert link.search(texts[office])[0] != link.search(texts[province])[0]
