"""The urgent path comes before everything: a case request or an emergency word is never held up by
an open draft, a pending resume offer, a stale list or the flood guard."""

from sqlalchemy import select

from storage.models import Alert, Case, Draft
from tests.fakechannel import User
from tests.helpers import enrolled, enrolled_plain, file_case, vi

DANGER = "Is anyone's life or health in immediate danger right now?"
KEPT = "Your draft “{form}” is kept, paused. When you have finished, I will offer to continue it."
OFFER = "Your draft “{form}” was kept while you reported. Continue it now?"


async def police_of(app):
    return await enrolled(app, "police", roles=("police",), villages=(), org=None, name="Trần Công An")


async def rows(app, model):
    async with app.sessions() as s:
        return (await s.scalars(select(model).order_by(model.id))).all()


async def half_an_outreach_report(head):
    await head.say("/baocao")
    await head.say("1")  # Thôn 3
    await head.say("hôm qua")
    await head.say("khong")  # not part of the gender month (the tests' clock is inside it)
    await head.say("2")  # a branch meeting


async def test_a_case_request_with_an_outreach_draft_open_goes_straight_to_the_danger_question(app):
    police = await police_of(app)
    head = await enrolled_plain(app)
    await half_an_outreach_report(head)
    replies = await head.say("/baotin")
    assert vi(KEPT, form=vi("Outreach session report")) in replies
    assert vi(DANGER) in replies[-1]
    urgent = await head.say("có")
    assert vi("URGENT case {ref} has been created. The commune police and leaders are being alerted now.",
              ref="HS-2026-0001") in urgent[0]
    assert vi("🔴 URGENT — case {ref}", ref="HS-2026-0001") in police.last.text
    drafts = await rows(app, Draft)
    assert sorted((d.form, d.slot) for d in drafts) == [("case", "active"), ("outreach", "paused")]

    # After the case, the outreach draft comes back as a question, and goes on where it was.
    await head.say("hủy")
    assert head.last.text.startswith(vi(OFFER, form=vi("Outreach session report")))
    topics = await head.say("1")  # "Tiếp tục"
    assert vi("What topics were covered? Choose all that apply.") in topics[-1]
    assert [(d.form, d.slot) for d in await rows(app, Draft)] == [("outreach", "active")]


async def test_every_way_of_asking_for_a_case_starts_it_at_once(app):
    for n, ask in enumerate(("/baotin", "baotin", "bao tin", "Báo tin", "/bao tin")):
        head = await enrolled_plain(app, f"p{n}")
        await half_an_outreach_report(head)
        replies = await head.say(ask)
        assert vi(DANGER) in replies[-1], ask
    button = await enrolled(app, "b1")
    await button.say("/baocao")
    await button.press("Thôn 3")
    replies = await button.press_data("m:baotin")  # the menu's "Báo tin vụ việc", pressed
    assert vi(DANGER) in replies[-1]


async def test_a_case_request_while_a_resume_offer_waits_still_starts_the_case(app, clock):
    head = await enrolled_plain(app)
    await half_an_outreach_report(head)
    clock.advance(hours=2)
    offer = await head.say("5")
    assert offer[-1].startswith(vi("You have an unfinished draft: {form}, at {where}.", form=vi("Outreach session report"),
                                   where=vi("step {i}/{n}", i=4, n=8)))
    assert vi(DANGER) in (await head.say("bao tin"))[-1]


async def test_a_case_request_inside_the_case_form_continues_it_never_a_second_case(app):
    await police_of(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("Yes"))
    await head.press(vi("Skip"))  # no phone
    again = await head.say("/baotin")
    assert vi("You are already filling in this form. Here is where you are:") in again
    assert vi("In which village did it happen?") in again[-1]
    assert len(await rows(app, Case)) == 1


async def test_the_urgent_path_is_never_throttled(app, clock):
    police = await police_of(app)
    head = await enrolled(app)
    for i in range(45):  # a burst beyond the limit of 40 a minute
        await head.say(f"xin chào {i}")
        clock.advance(seconds=-1.9)  # the fake user waits 2 s per message: this is a real flood
    slow = vi("You are sending messages very fast. Please wait a minute, then continue.")
    assert slow in [m.text for m in head.messages]
    assert vi(DANGER) in (await head.say("/baotin"))[-1]
    await head.say("Có")
    [case] = await rows(app, Case)
    assert case.urgent and len(await rows(app, Alert)) >= 1
    assert vi("🔴 URGENT — case {ref}", ref=case.ref) in police.last.text


async def test_a_legitimate_reporter_filling_two_case_forms_fast_is_never_throttled(app, clock):
    head = await enrolled(app)
    for _ in range(2):
        await file_case(head)
    slow = vi("You are sending messages very fast. Please wait a minute, then continue.")
    assert slow not in [m.text for m in head.messages]
    assert len(await rows(app, Case)) == 2


async def test_a_strangers_flood_gets_a_bounded_number_of_answers(app, clock):
    from tests.fakechannel import User

    stranger = User(app, "s1")
    answered = 0
    for i in range(200):
        answered += len(await stranger.say(f"spam {i}"))
        clock.advance(seconds=-1.9)
    assert answered <= 45


async def test_an_emergency_word_starts_the_case_form_and_keeps_the_draft(app):
    head = await enrolled_plain(app)
    await half_an_outreach_report(head)
    replies = await head.say("Cứu với")
    assert vi("• 113 (police)") in "\n".join(replies)
    assert vi(KEPT, form=vi("Outreach session report")) in replies
    assert vi(DANGER) in replies[-1]
    await head.say("1")  # "Có": one typed answer to the urgent path
    [case] = await rows(app, Case)
    assert case.urgent


async def test_emergency_words_without_tone_marks_and_never_inside_a_free_text_answer(app):
    head = await enrolled_plain(app)
    for n, word in enumerate(("khan cap", "NGUY HIỂM!", "cap cuu", "cứu")):
        user = await enrolled_plain(app, f"w{n}")
        assert vi(DANGER) in (await user.say(word))[-1], word
    # A note that merely begins with the word, at a free-text question, is the answer.
    await head.say("/baocao")
    # "khong": not part of the gender month; so the details skip one question fewer (no campaign choice)
    for answer in ("1", "hôm qua", "khong", "2", "1 xong", "30", "10", "20", "có", "bỏ qua", "bỏ qua", "bỏ qua",
                   "bỏ qua", "bỏ qua", "bỏ qua"):
        await head.say(answer)
    note = "Cứu trợ gạo cho các hộ khó khăn cũng được nhắc đến trong buổi họp"
    replies = await head.say(note)
    assert vi(DANGER) not in replies[-1]
    assert vi("Send up to 3 photos of the session (Ảnh minh chứng), one at a time. Or skip.") in replies[-1]


async def test_an_emergency_word_inside_a_case_form_marks_that_case_urgent_never_a_second(app):
    police = await police_of(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await head.press("Thôn 3")
    assert await rows(app, Case) == []
    replies = await head.say("khẩn cấp")
    [case] = await rows(app, Case)
    assert case.urgent
    assert vi("🔴 URGENT — case {ref}", ref=case.ref) in police.last.text
    assert vi("What phone number can the police call you back on?") in replies[-1]
    await head.press(vi("Skip"))
    assert vi("When did it happen or come to light? An approximate date is fine.") in head.last.text
    again = await head.say("cứu")
    assert vi("Case {ref} is already marked URGENT and the officers have been alerted.", ref=case.ref) in again[0]
    assert len(await rows(app, Case)) == 1


async def test_a_stranger_an_admin_or_a_province_officer_gets_the_numbers_at_once(app):
    from tests.fakechannel import User

    stranger = User(app, "s1")
    assert vi("• 113 (police)") in (await stranger.say("cứu"))[0]
    for roles in (("admin",), ("province",)):
        person = await enrolled(app, roles[0], roles=roles, villages=(), org=None, commune="xuanduong")
        replies = await person.say("nguy hiem")
        assert vi("• 113 (police)") in replies[0] and vi("• 111 (if a child is involved)") in replies[0]
        assert await rows(app, Case) == []


async def test_expiry_runs_on_the_active_and_the_paused_draft_alike(app, clock):
    head = await enrolled_plain(app)
    await half_an_outreach_report(head)
    await head.say("/baotin")  # the outreach draft is paused; the case draft lives 24 hours
    clock.advance(hours=25)
    await app.scheduler.run_due()
    await app.outbox.drain()
    assert [(d.form, d.slot) for d in await rows(app, Draft)] == [("outreach", "paused")]
    notice = vi("Your unfinished draft ({form}) was discarded because it was not touched for a long time. "
                "You can start again from the menu.", form=vi("Case report"))
    assert notice in [m.text for m in head.messages]
    clock.advance(days=3)
    await app.scheduler.run_due()
    await app.outbox.drain()
    assert await rows(app, Draft) == []
    assert vi("Your unfinished draft ({form}) was discarded because it was not touched for a long time. "
              "You can start again from the menu.", form=vi("Outreach session report")) in [m.text for m in head.messages]


async def test_an_emergency_word_right_after_enrolment_leaves_the_phone_question_for_the_case(app):
    from tests.fakechannel import PlainUser
    from tests.helpers import make_invite

    head = PlainUser(app, "new")
    await head.say(f"/start {await make_invite(app)}")  # asked for a phone number, not answered
    assert vi(DANGER) in (await head.say("cuu"))[-1]
    await head.say("có")
    [case] = await rows(app, Case)
    assert case.urgent


async def test_a_cry_for_help_in_a_group_gets_the_numbers_there_and_nothing_else_is_read(app):
    group = User(app, "group-1")  # a group chat the bot was added to: its events come as kind "group"
    cry = await group._send(text="cứu với", kind="group")
    assert len(cry) == 1
    assert vi("If someone is in danger, call now:") in cry[0] and vi("• 113 (police)") in cry[0]
    assert "0208 3000 113" in cry[0] and vi("Please write to me in a private chat. Reports are never handled in "
                                            "groups.") in cry[0]
    other = await group._send(text="hôm nay họp thôn", kind="group")
    assert other == [vi("Please write to me in a private chat. Reports are never handled in groups.")]
    async with app.sessions() as s:
        assert (await s.scalars(select(Case))).all() == []  # nothing about a case comes from a group
