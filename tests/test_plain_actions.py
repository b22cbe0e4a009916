"""On a channel without buttons, the actions under a list ("Sửa BC-…", "Cập nhật hỗ trợ, tư vấn") are
numbered too, and a number typed there acts on them, never on an older list such as the menu."""

from sqlalchemy import select

from bot.channels.base import render_plain
from core.events import Choice, Reply
from core.i18n import translate
from storage.chatlists import numbered
from storage.models import Report, ReportTopic
from tests.helpers import enrolled, enrolled_plain, file_case, vi


async def test_a_reporter_corrects_a_report_by_typing_its_number_in_my_reports(app):
    head = await enrolled_plain(app, "p1")
    await head.say("bao cao")
    for typed in ("1", "hom qua", "khong", "1", "1 xong", "40", "15", "25", "khong", "xong", "xac nhan"):
        await head.say(typed)
    async with app.sessions() as s:
        ref = (await s.scalars(select(Report.ref))).one()
    listing = (await head.say("/cuatoi"))[-1]
    assert f"\n1. {vi('Correct {ref}', ref=ref)} (/cuatoi {ref})" in listing
    opened = "\n".join(await head.say("1"))  # the correction, not the menu's first line (a new report)
    assert vi("Review: {form}", form=vi("Outreach session report")) in opened
    assert vi("Which village was the session held in?") not in opened


async def test_the_office_reaches_support_and_household_by_number_on_a_plain_channel(app):
    await file_case(await enrolled(app, "r1"))
    office = await enrolled_plain(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    offer = (await office.say("/capnhat HS-2026-0001"))[-1]
    assert "\n1. " + vi("Being verified") in offer  # the statuses first, the actions after them
    assert f". {vi('Update support and counselling')}" in offer
    assert f". {vi('Same household as another case')}" in offer
    line = next(x for x in offer.splitlines() if x.endswith(vi("Update support and counselling")))
    asked = await office.say(line.split(".")[0])
    assert vi("Support the person subjected has received so far? Choose all that apply.")[:30] in "\n".join(asked)


def test_actions_are_numbered_after_the_options_and_registered_alike():
    reply = Reply("x", (Choice("Một", "a:1"), Choice("Sửa BC-1", "r:BC-1", control=True, keyword="/cuatoi BC-1"),
                        Choice("Hủy", "o:ux", control=True), Choice("Quay lại", "f1:b", control=True, keyword="quay lại")))
    assert render_plain(reply).splitlines()[2:] == ["1. Một", "2. Sửa BC-1 (/cuatoi BC-1)", "3. Hủy", "» quay lại"]
    assert numbered(reply) == [["a:1", "Một"], ["r:BC-1", "Sửa BC-1"], ["o:ux", "Hủy"]]
    question = Reply("q", reply.choices, tag="q7:1")  # a form's question reads its own answers
    assert numbered(question) == [["a:1", "Một"]]
    assert "/cuatoi BC-1 — Sửa BC-1" in render_plain(question)


async def test_on_a_quota_channel_a_toggle_answers_with_one_line_and_the_list_on_request(app):
    from tests.fakechannel import declare

    declare(app, app.plain, monthly_quota=3000)  # like the free Zalo Bot plan: every message counts
    head = await enrolled_plain(app)
    for typed in ("bao cao", "1", "hom qua", "khong", "2"):
        await head.say(typed)
    assert await head.say("1") == [vi("Chosen: {numbers}. Type other numbers to choose or unchoose, “xem” to see the "
                                      "list, or xong.", numbers="1")]
    assert await head.say("3") == [vi("Chosen: {numbers}. Type other numbers to choose or unchoose, “xem” to see the "
                                      "list, or xong.", numbers="1, 3")]
    assert await head.say("1") == [vi("Chosen: {numbers}. Type other numbers to choose or unchoose, “xem” to see the "
                                      "list, or xong.", numbers="3")]
    assert await head.say("3") == [vi("Nothing chosen yet. Type the numbers to choose, “xem” to see the list, or xong.")]
    await head.say("1 3")
    shown = await head.say("xem")
    assert len(shown) == 1 and "\n1. [x] " + vi("Law on Gender Equality") in shown[0] and "\n2. [ ] " in shown[0]
    following = await head.say("xong")
    assert vi("How many attendances in total (lượt người)?") in following[-1]
    for answer in ("40", "15", "25", "không", "bỏ qua", "xác nhận"):
        await head.say(answer)
    async with app.sessions() as s:
        topics = sorted((await s.scalars(select(ReportTopic.topic))).all())
    assert topics == ["gender_equality", "trafficking"]


async def test_nothing_on_a_plain_channel_asks_to_press_a_button(app):
    """Enrolment, an outreach report with wrong answers and "?" at every kind of question, photos,
    help and my reports: no line tells the person to press something this chat does not have."""
    from tests.fakechannel import PlainUser
    from tests.helpers import make_invite

    head = PlainUser(app, "p9")
    seen = await head.say(f"/start {await make_invite(app, villages=('t03',))}")
    seen += await head.say("113")  # not a phone number
    seen += await head.say("bỏ qua")
    for typed in ("bao cao", "?", "thon 5", "1", "?", "hom qua", "khong", "?", "1", "?", "1 2", "xem", "xong",
                  "?", "40", "15", "25", "co"):
        seen += await head.say(typed)
    for typed in ("?", "bỏ qua", "bỏ qua", "bỏ qua", "bỏ qua", "bỏ qua", "bỏ qua", "bỏ qua", "bỏ qua"):
        seen += await head.say(typed)
        if any(vi("Photos so far: {n}/{max}", n=0, max=3) in m for m in seen[-2:]):
            break
    seen += await head.photo(b"not a photo")
    seen += await head.say("?")
    seen += await head.say("xong")
    seen += await head.say("/trogiup")
    text = "\n".join(seen).lower()
    assert vi("Photos so far: {n}/{max}", n=0, max=3).lower() in text  # the walk reached the photos
    assert "bấm" not in text, [m for m in seen if "bấm" in m.lower()]


async def test_an_english_speaker_may_type_the_vietnamese_of_an_extra_answer(app):
    head = await enrolled_plain(app, "en1")
    await head.say("/ngonngu en")
    for typed in ("bao cao", "1", "hom qua", "khong", "1", "1 xong", "40"):
        await head.say(typed)
    after = await head.say("khong dem theo gioi")  # "Không đếm theo giới", typed without tone marks
    assert "not a number" not in "\n".join(after).lower()
    assert translate("en", "Add more details (campaign, language, materials, youth, ethnic minority, note)?") in after[-1]


async def test_a_question_mark_at_a_list_keeps_the_list(app):
    """"?" under /moi's list of roles: help, then the same list, and "1" is its first line — never the
    menu's (which once switched the commune's reminders off)."""
    admin = await enrolled_plain(app, "a1", roles=("admin",), villages=(), org=None, name="Quản Trị")
    roles = (await admin.say("/moi"))[-1]
    assert "\n1. " + vi("reporter") in roles
    helped = await admin.say("?")
    assert vi("As {role}, what you do most:", role=vi("administrator")) in helped[0]
    assert helped[-1].startswith(vi("Here is the current list:")) and "\n1. " + vi("reporter") in helped[-1]
    picked = (await admin.say("1"))[-1]
    assert vi("Which village does the reporter work in?") in picked


async def test_my_reports_is_one_list_numbered_once(app):
    from tests.helpers import walk_to_review

    head = await enrolled(app, "r2")
    await file_case(head)
    await walk_to_review(head)
    await head.press(vi("Confirm"))
    shown = await head.say("/cuatoi")
    assert len(shown) == 1  # the cases and the reports together: one list, not two lists both from 1
    drawn = render_plain(head.last.reply)
    assert f"\n1. {vi('Add information to {ref}', ref='HS-2026-0001')}" in drawn
    assert f"\n2. {vi('Correct {ref}', ref='BC-2026-0001')}" in drawn


async def test_an_officer_reading_a_case_sees_whom_to_call_back(app):
    await file_case(await enrolled(app, "r1"))  # Hoàng Văn Ba, who skipped the phone question
    office = await enrolled(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    shown = "\n".join(await office.say("/vuviec HS-2026-0001"))
    assert vi("Reported by: {name}, no phone number yet", name="Hoàng Văn Ba") in shown


async def test_the_review_of_a_status_change_says_which_status_it_saves(app):
    await file_case(await enrolled(app, "r1"))
    office = await enrolled_plain(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    await office.say("/capnhat HS-2026-0001")
    await office.say("1")  # the status that follows "newly received"
    review = (await office.say("Đã gọi cho trưởng thôn, chỉ là cãi nhau"))[-1]
    assert vi("Case {ref}: {old} → {new}", ref="HS-2026-0001", old=vi("Newly received"),
              new=vi("Being verified")) in review
