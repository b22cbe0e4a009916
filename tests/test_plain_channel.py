"""On a channel without buttons (the Zalo Bot, the terminal) every list is answered by number or by
its words, for every role; several choices toggle; nothing typed is passed on to the wrong question."""

from sqlalchemy import select

from core.i18n import translate
from storage.models import Case, CaseText, Report, ReportTopic
from tests.helpers import enrolled, enrolled_plain, file_case, vi

TOPICS_Q = "What topics were covered? Choose all that apply."


async def topics_of_report(app):
    async with app.sessions() as s:
        return sorted((await s.scalars(select(ReportTopic.topic))).all())


async def to_topics(head):
    await head.say("bao cao")  # the command as typed, without the slash or tone marks
    await head.say("1")
    await head.say("hom qua")
    await head.say("khong")  # not part of the gender month (the tests' clock is inside it)
    await head.say("2")


async def test_typing_one_number_at_a_time_toggles_topics_and_never_reaches_the_next_question(app):
    head = await enrolled_plain(app)
    await to_topics(head)
    first = await head.say("1")
    assert vi(TOPICS_Q) in first[-1] and "\n1. [x] " + vi("Law on Gender Equality") in first[-1]
    second = await head.say("2")
    assert vi(TOPICS_Q) in second[-1]  # "2" is a topic, never the attendance
    assert "\n2. [x] " + vi("Domestic violence prevention") in second[-1]
    assert "\n0. " + vi("Done") in second[-1]
    again = await head.say("1")  # a second "1" takes topic 1 off again
    assert "\n1. [ ] " + vi("Law on Gender Equality") in again[-1]
    await head.say("1, 3 và 5")
    done = await head.say("0")
    assert vi("How many attendances in total (lượt người)?") in done[-1]
    for answer in ("40", "15", "25", "không", "bỏ qua"):
        await head.say(answer)
    await head.say("xác nhận")
    assert await topics_of_report(app) == ["domestic_violence", "gender_equality", "sex_ratio", "trafficking"]


async def test_a_trailing_xong_and_option_text_work_and_a_wrong_number_is_refused(app):
    head = await enrolled_plain(app)
    await to_topics(head)
    refused = await head.say("12")
    assert vi("“{text}” is not one of the options. Please type the number of an option.", text="12") in refused
    await head.say("phong chong mua ban nguoi")  # an option's words, without tone marks
    done = await head.say("8 xong")
    assert vi("How many attendances in total (lượt người)?") in done[-1]
    for answer in ("40", "15", "25", "không", "bỏ qua", "xác nhận"):
        await head.say(answer)
    assert await topics_of_report(app) == ["online_safety", "trafficking"]


async def test_editing_topics_from_the_review_starts_from_the_selection_and_toggles(app):
    head = await enrolled_plain(app)
    await to_topics(head)
    for answer in ("1 2 xong", "40", "15", "25", "không", "bỏ qua"):
        await head.say(answer)
    review = head.last.text
    assert vi("Nothing is saved until you confirm. To change an answer, choose its number.") in review
    # "; " between several answers: the labels have commas of their own
    assert vi("Topics") + ": " + vi("Law on Gender Equality") + "; " + vi("Domestic violence prevention") in review
    edit = await head.say("5")  # the fifth answer: the topics (the third is the campaign answer)
    assert "\n1. [x] " in edit[-1] and "\n2. [x] " in edit[-1] and "\n3. [ ] " in edit[-1]
    await head.say("2")  # off
    await head.say("3 xong")  # on, and done
    await head.say("xác nhận")
    assert await topics_of_report(app) == ["gender_equality", "trafficking"]


async def test_the_resume_offer_is_answered_before_the_form_goes_on(app, clock):
    head = await enrolled_plain(app)
    await to_topics(head)
    clock.advance(hours=2)
    offer = await head.say("1")
    assert offer[-1].startswith(vi("You have an unfinished draft: {form}, at {where}.", form=vi("Outreach session report"),
                                   where=vi("step {i}/{n}", i=4, n=8)))
    again = await head.say("1")  # "1" answers the offer (continue), it is not a topic
    assert vi(TOPICS_Q) in again[-1] and "[x]" not in again[-1]
    clock.advance(hours=2)
    await head.say("hello")
    what = await head.say("40")
    assert what[0] == vi("First, please answer about your draft: 1 to continue it, 2 to discard it.")
    assert vi("Discard draft") in what[-1]
    await head.say("tiếp tục")
    assert vi(TOPICS_Q) in head.last.text
    clock.advance(hours=2)
    await head.say("x")
    await head.say("2")
    assert vi("The draft has been cancelled. Nothing was saved.") in [m.text for m in head.messages[-3:]]
    async with app.sessions() as s:
        assert (await s.scalars(select(Report))).all() == []


async def test_commands_are_understood_as_people_type_them_outside_forms(app):
    head = await enrolled_plain(app)
    assert vi("Every command you may use:") in (await head.say("tro giup"))[0]
    assert translate("en", "The language has been changed.") in (await head.say("ngonngu en"))[0]
    assert vi("The language has been changed.") in (await head.say("ngon ngu vi"))[0]
    office = await enrolled_plain(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    village = await office.say("thon thon 3")
    assert village[0].startswith("Thôn 3")  # the village's figures, not "I did not understand"
    assert vi("Outreach session report") in (await head.say("bao cao"))[-1]


async def test_the_plain_menu_is_numbered_and_a_number_opens_its_command(app):
    head = await enrolled_plain(app)
    menu = (await head.say("xin chao"))[-1]
    assert "\n1. " + vi("Report an outreach session") in menu and "\n2. " + vi("Report a case (hồ sơ)") in menu
    assert vi("Is anyone's life or health in immediate danger right now?") in (await head.say("2"))[-1]


async def make_case(app):
    await file_case(await enrolled(app, "r1"))


async def test_the_office_lists_and_changes_a_case_by_numbers_without_buttons(app):
    await make_case(app)
    office = await enrolled_plain(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    listing = (await office.say("/vuviec"))[-1]
    assert "\n1. HS-2026-0001" in listing
    opened = await office.say("1")
    assert opened[0].startswith(vi("Case {ref}", ref="HS-2026-0001"))
    offer = (await office.say("/capnhat HS-2026-0001"))[-1]
    assert "\n1. " + vi("Being verified") in offer
    note_q = await office.say("dang xac minh")  # the option's words, without tone marks
    assert vi("Type a short note about this change. It is stored encrypted; only those who may read the case can "
              "see it.") in note_q[-1]
    await office.say("Đã gọi điện cho trưởng thôn")
    done = await office.say("xac nhan")
    assert vi("Case {ref} is now: {status}.", ref="HS-2026-0001", status=vi("Being verified")) in done
    async with app.sessions() as s:
        case = (await s.scalars(select(Case))).one()
        assert case.status == "verifying"
        assert [t.kind for t in (await s.scalars(select(CaseText))).all()] == ["status_note"]


async def test_an_old_number_after_the_list_changed_is_not_guessed(app):
    await make_case(app)
    office = await enrolled_plain(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    await office.say("/vuviec")
    stale = await office.say("7")
    assert stale[0] == vi("The list has no number {n}: choose from 1 to {last}.", n=7, last=1)
    assert "\n1. HS-2026-0001" in stale[-1]
    async with app.sessions() as s:
        assert (await s.scalars(select(Case))).one().status == "new"


async def test_the_step_total_never_grows_and_a_repeated_group_is_announced(app):
    head = await enrolled(app)
    totals = []
    replies = [await head.say("/baotin")]
    for action in (("press", "No"), ("press", "Thôn 3"), ("press", "Yesterday"), ("press", "Other"), ("say", "qua điện thoại"),
                   ("press", "Domestic violence"), ("press", "Physical"), ("press", "Done"), ("say", "2")):
        kind, value = action
        replies.append(await (head.press(vi(value)) if kind == "press" else head.say(value)))
    import re

    for r in replies:
        if not r:
            continue  # a toggle pressed edits its message: nothing new
        head_line = vi("{form} · Step {i}/{n}", form=vi("Case report"), i=99, n=98)
        m = re.match(re.escape(head_line).replace("99", r"(\d+)").replace("98", r"(\d+)"), r[-1])
        if m:
            totals.append((int(m[1]), int(m[2])))
    assert totals[:4] == [(1, 7), (2, 7), (3, 7), (4, 7)]
    # "Khác" adds its follow-up under the same number; the total stays 7 until the group starts.
    assert totals[:-1] == [(1, 7), (2, 7), (3, 7), (4, 7), (4, 7), (5, 7), (6, 7), (7, 7)], totals
    assert totals[-1] == (1, 3)
    assert vi("Person subjected to violence no. {n}", n=1) in head.last.text
    assert head.last.text.startswith(vi("{form} · Step {i}/{n}", form=vi("Case report"), i=1, n=3))


async def test_the_language_list_is_answered_by_number_or_name(app):
    head = await enrolled_plain(app)
    listing = (await head.say("ngon ngu"))[-1]
    assert "\n1. Tiếng Việt" in listing and "\n2. English" in listing
    assert (await head.say("2"))[0] == translate("en", "The language has been changed.")
    await head.say("/ngonngu")
    assert (await head.say("tieng viet"))[0] == vi("The language has been changed.")


async def test_question_mark_help_glued_village_numbers_and_plain_refusals(app):
    head = await enrolled_plain(app)
    await head.say("bao cao")
    help_ = await head.say("?")
    assert vi("Type the number or the name of an option.") in help_[0]  # no buttons here to press
    assert vi("Press a button, or type the number or the name of an option.") not in help_[0]
    refused = await head.say("thon 9")
    assert refused[0] == vi("{village} is not one of your villages. Please choose one of the buttons.", village="Thôn 9") \
        or "Thôn 9" in refused[0]
    nonsense = await head.say("xyz")
    assert nonsense[0] == vi("“{text}” is not one of the options. Please type the number of an option.", text="xyz")
    assert vi("On what date was it held? (dd/mm/yyyy, or 'hôm nay', 'hôm qua')") in (await head.say("thon3"))[-1]


async def test_none_of_these_and_the_other_options_exclude_each_other(app):
    head = await enrolled_plain(app)
    await head.say("/baotin")
    for answer in ("2", "1", "hôm qua", "3", "1", "1 xong", "1", "1", "30"):  # no danger … one person, female, 30
        await head.say(answer)
    both = await head.say("1 3")  # a disability and "neither" in one message: refused, nothing dropped
    assert both[0] == vi("“{option}” cannot be chosen together with other answers. Type only the numbers that "
                         "apply, or only the number of “{option}”.", option=vi("Neither"))
    await head.say("1")
    flags = await head.say("3")  # a disability, then "neither" in the next message: "neither" takes its place
    assert "\n1. [ ] " + vi("Has a disability") in flags[-1] and "\n3. [x] " + vi("Neither") in flags[-1]
    await head.say("1 xong")  # a disability: "neither" goes
    for answer in ("2", "40", "1", "1", "2"):  # male, 40, spouse, first time, not fined before
        await head.say(answer)
    await head.say("1")  # ordered to stop
    measures = await head.say("chua ap dung")  # "none yet" takes the other off
    assert "[x] " + vi("None yet") in measures[-1] and "[ ] " + vi("Ordered to stop the violence") in measures[-1]
    await head.say("xong")
    review_labels = []
    for answer in ("6 xong", "3", "7 xong", "1", "bỏ qua"):
        review_labels = await head.say(answer)
    assert vi("Circumstances") + ": " + vi("Has a disability") + "\n" in review_labels[-1]
    assert vi("Measures applied") + ": " + vi("None yet") + "\n" in review_labels[-1]


async def test_what_the_channel_cannot_do_is_not_asked_of_the_person(app):
    """Capabilities, not channel names: no "press the button below" where no button shares a contact,
    and a photo step says how to go on where photos cannot be sent."""
    from tests.fakechannel import PlainUser, declare
    from tests.helpers import make_invite

    declare(app, app.plain, photos=False)
    user = PlainUser(app, "p7")
    replies = await user.say(f"/start {await make_invite(app)}")
    assert vi("You are enrolled. Please type your phone number so that the commune can call you back when needed, "
              "e.g. 0912 345 678. You may skip this.") in replies[-1]
    assert vi("You are enrolled. Please share your phone number so that the commune can call you back when needed. "
              "Press the button below or type the number. You may skip this.") not in replies[-1]
    await user.say("bỏ qua")
    await user.say("/baocao")
    for answer in ("1", "05/11/2026", "1", "1 xong", "40", "20", "20", "2"):  # 05/11: no campaign question
        replies = await user.say(answer)
    assert vi("Photos cannot be sent on this channel: type “bỏ qua” to go on without them.") in replies[-1]
    assert "» " + vi("confirm") in (await user.say("bỏ qua"))[-1]  # the review, confirmed by typing


async def test_a_number_past_the_end_of_the_list_says_so_and_shows_the_list_again(app):
    """22 villages: "/thon 23" names no village, the list follows numbered; "23" typed at it is a
    number the list does not have (not a list that changed), and "22" then opens Thôn 22."""
    office = await enrolled_plain(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    named = await office.say("/thon 23")
    assert named[0] == vi("No village is called “{text}”.", text="23")
    assert "\n22. Thôn 22" in named[-1]
    past = await office.say("23")
    assert past[0] == vi("The list has no number {n}: choose from 1 to {last}.", n=23, last=22)
    assert "\n22. Thôn 22" in past[-1]
    opened = await office.say("22")
    assert opened[0].startswith("Thôn 22")


async def test_a_month_with_no_session_says_none_by_village_instead_of_an_empty_heading(app):
    office = await enrolled_plain(app, "o1", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    (text,) = await office.say("thang truoc")
    assert vi("By village (this period · year to date):") + " " + vi("none") + "\n" in text
