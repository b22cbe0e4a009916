"""The outreach report, walked as a village head would: answers, mistakes, back, skip, review."""

import io
from datetime import date

from PIL import Image
from sqlalchemy import select

from handlers.forms.outreach import CAMPAIGN_QUESTIONS
from storage.models import Draft, Photo, Report, ReportTopic
from tests.helpers import enrolled, enrolled_plain, vi, walk_to_review


async def reports(app):
    async with app.sessions() as s:
        return (await s.scalars(select(Report).order_by(Report.id))).all()


async def test_a_village_head_reports_a_meeting(app):
    head = await enrolled(app)
    first = await head.say("/baocao")
    assert first[0].startswith(vi("{form} · Step {i}/{n}", form=vi("Outreach session report"), i=1, n=8))
    assert head.last.labels[:2] == ["Thôn 3", vi("Whole commune / several villages")]
    steps = [
        await head.press("Thôn 3"),
        await head.say("hom qua"),  # without diacritics
        await head.press(vi("No")),  # not part of the gender month
        await head.say("hop thon"),
        await head.say("1, 2 xong"),
        await head.say("1.245"),
        await head.say("đúng"),  # more than 1.000 at one session: "is this right?"
        await head.say("533"),
        await head.say("712"),
        await head.press(vi("No")),
        await head.press(vi("Done")),
    ]
    # 24/11 is in the gender month: asked right after the date, under the date's step number
    assert steps[1][-1].startswith(vi("{form} · Step {i}/{n}", form=vi("Outreach session report"), i=2, n=8))
    assert vi(CAMPAIGN_QUESTIONS["gender_month"]) in steps[1][-1]
    assert steps[2][-1].startswith(vi("{form} · Step {i}/{n}", form=vi("Outreach session report"), i=3, n=8))
    review = head.last.text
    assert "Thôn 3" in review and "24/11/2026" in review and "1.245" in review
    assert vi("Action Month for Gender Equality (15/11–15/12)") + ": " + vi("No") in review
    assert vi("Village meeting / conference") in review
    assert await reports(app) == []  # nothing is stored before the confirmation
    done = await head.press(vi("Confirm"))
    assert done[0] == vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001")
    [report] = await reports(app)
    assert (report.village_id, report.held_on, report.format) == ("t03", date(2026, 11, 24), "meeting")
    assert (report.attendees_total, report.attendees_male, report.attendees_female) == (1245, 533, 712)
    async with app.sessions() as s:
        topics = set((await s.scalars(select(ReportTopic.topic))).all())
        assert topics == {"gender_equality", "domestic_violence"}
        assert (await s.scalars(select(Draft))).all() == []


async def test_men_and_women_must_add_up_to_the_total(app):
    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    await head.say("hôm qua")
    await head.press(vi("No"))  # not part of the gender month
    await head.say("1")
    await head.say("1 xong")
    await head.say("120")
    await head.say("50")
    refused = await head.say("60")
    assert refused[0] == vi("Men {male} + women {female} = {sum}, but the total is {total}. Please type the number of "
                            "women again, or go back to change the others.", male=50, female=60, sum=110, total=120)
    assert vi("And how many women?") in refused[1]
    accepted = await head.say("70")
    assert vi("Add more details (campaign, language, materials, youth, ethnic minority, note)?") in accepted[-1]


async def test_not_counted_by_sex_skips_the_women_question(app):
    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    await head.press(vi("Today"))
    await head.press(vi("No"))  # not part of the gender month
    await head.say("2")
    await head.say("3 xong")
    await head.say("80")
    replies = await head.press(vi("Not counted by sex"))
    assert vi("Add more details (campaign, language, materials, youth, ethnic minority, note)?") in replies[-1]
    await head.press(vi("No"))
    await head.press(vi("Done"))
    await head.press(vi("Confirm"))
    [report] = await reports(app)
    assert (report.attendees_total, report.attendees_male, report.attendees_female) == (80, None, None)
    assert report.held_on == date(2026, 11, 25)


async def test_wrong_answers_get_a_specific_message_and_the_same_question(app):
    head = await enrolled(app)
    await head.say("/baocao")
    wrong = await head.say("Thôn 5")
    assert wrong[0] == vi("{village} is not one of your villages. Please choose one of the buttons.", village="Thôn 5")
    assert vi("Which village was the session held in?") in wrong[1]
    await head.say("thon 3")
    assert vi("The date cannot be in the future. Please type the date it took place.") in await head.say("30/11/2026")
    assert vi("“{text}” is not a real date. Please check the day and the month.", text="31/02/2026") in await head.say("31/02/2026")
    old = await head.say("01/01/2026")
    assert old[0] == vi("The date is more than {days} days ago. Reports older than that cannot be sent here; please tell the office.", days=60)
    assert vi(CAMPAIGN_QUESTIONS["gender_month"]) in (await head.say("25/11"))[-1]
    await head.press(vi("No"))
    await head.say("1")
    await head.say("1 xong")
    assert await head.say("nhiều lắm") == [
        vi("“{text}” is not a number. Please type a whole number, e.g. 45.", text="nhiều lắm"),
        head.last.text,
    ]
    too_many = await head.say("130")
    assert vi("Of them, how many men?") in too_many[-1]
    refused = await head.say("200")
    assert refused[0] == vi("Men ({male}) cannot be more than the total ({total}).", male=200, total=130)


async def test_back_skip_and_help_work_on_every_step(app):
    head = await enrolled(app)
    await head.say("/baocao")
    assert vi("This is the first question.") in await head.say("quay lại")
    await head.press("Thôn 3")
    back = await head.say("quay lại")
    assert vi("Which village was the session held in?") in back[-1]
    await head.press("Thôn 3")
    help_ = await head.say("trợ giúp")
    assert vi("Type a date as dd/mm/yyyy, e.g. 25/11/2026, or 'hôm nay', 'hôm qua'.") in help_[0]
    asked = await head.say("hôm nay")
    assert vi(CAMPAIGN_QUESTIONS["gender_month"]) in asked[-1]
    back = await head.say("quay lại")
    assert vi("On what date was it held? (dd/mm/yyyy, or 'hôm nay', 'hôm qua')") in back[-1]
    await head.say("hôm nay")
    await head.press(vi("No"))
    await head.say("1")
    await head.say("2 xong")
    await head.say("40")
    await head.say("20")
    await head.say("20")
    await head.press(vi("Yes"))
    # The campaign was answered after the date, so the details start with the language.
    assert vi("Which language was used?") in head.last.text
    assert vi("Skip") in head.last.labels  # language is optional
    await head.press(vi("Skip"))
    await head.say("bỏ qua")
    for _ in range(4):  # one fewer than before: the campaign choice is not asked again here
        await head.press(vi("Skip"))
    await head.say("Họp có <b>đông</b> & vui")
    review = await head.press(vi("Done"))
    assert "Họp có &lt;b&gt;đông&lt;/b&gt; &amp; vui" in review[-1]  # escaped inside the HTML review
    await head.press(vi("Confirm"))
    [report] = await reports(app)
    assert report.note == "Họp có <b>đông</b> & vui" and report.campaign is None and report.leaflets is None


async def test_an_answer_is_edited_from_the_review(app):
    head = await enrolled(app)
    await walk_to_review(head)
    await head.press("✏️ 6")  # attendances (line 3 is the campaign answer)
    assert vi("Now: {value}", value="120") in head.last.text
    # 50 + 70 no longer make 150: the women are asked again at once, with the sum shown, not at the
    # confirm (nor after the review showed figures that do not add up)
    asked = await head.say("150")
    assert asked[0] == vi("Men {male} + women {female} = {sum}, but the total is {total}. Please type the number of "
                          "women again, or go back to change the others.", male=50, female=70, sum=120, total=150)
    assert vi("And how many women?") in asked[-1] and len(asked) == 2
    review = await head.say("100")
    assert "150" in review[-1] and "100" in review[-1]
    await head.say("xác nhận")
    [report] = await reports(app)
    assert (report.attendees_total, report.attendees_female) == (150, 100)


async def test_cancel_discards_the_draft(app):
    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    replies = await head.say("/huy")
    assert replies[0] == vi("The draft has been cancelled. Nothing was saved.")
    async with app.sessions() as s:
        assert (await s.scalars(select(Draft))).all() == []


async def test_a_late_button_is_not_applied(app):
    head = await enrolled(app)
    await head.say("/baocao")
    old_village_button = head.button("Thôn 3")
    await head.press("Thôn 3")
    replies = await head.press_data(old_village_button.data)
    assert replies[0] == vi("That question has already been answered. Here is where you are now:")
    assert vi("On what date was it held? (dd/mm/yyyy, or 'hôm nay', 'hôm qua')") in replies[1]
    forged = await head.press_data("f9999:o0")
    assert forged[0] == vi("That question has already been answered. Here is where you are now:")


async def test_the_same_update_delivered_twice_is_handled_once(app):
    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    first = await head.say("hôm nay", dedup_key="dup-1")
    again = await head.say("hôm nay", dedup_key="dup-1")
    assert first and again == []


async def test_stickers_and_huge_messages_get_an_answer(app):
    head = await enrolled(app)
    await head.say("/baocao")
    sticker = await head.other("sticker")
    assert sticker[0] == vi("I can only read text here. Please type your answer.")
    await head.press("Thôn 3")
    await head.say("hôm nay")
    await head.press(vi("No"))  # not part of the gender month
    await head.say("10")  # Khác
    long = await head.say("x" * 100_000)
    assert long[0].startswith(vi("That is too long ({n} characters). Please keep it under {max} characters.", n="20.001", max="200")[:12])


def _jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (3000, 2000), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {2: (21.0, 35.0, 10.0), 4: (105.0, 50.0, 1.0)}  # GPSInfo
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def test_photos_are_kept_small_and_without_location(app):
    head = await enrolled(app)
    await walk_to_review(head)
    await head.press("✏️ 10")  # photos (line 3 is the campaign answer)
    raw = _jpeg_with_gps()
    assert b"PhoneMaker" in raw
    got = await head.photo(raw)
    assert got[0] == vi("Photo {n} received. Send another, or press Done.", n=1)
    await head.photo(raw)
    review = await head.photo(raw)  # the third fills the step
    assert vi("{n} photo(s)", n=3) in review[-1]
    await head.press(vi("Confirm"))
    async with app.sessions() as s:
        photos = (await s.scalars(select(Photo))).all()
    assert len(photos) == 3 and all(p.report_id for p in photos)
    for p in photos:
        img = Image.open(io.BytesIO(p.data))
        assert max(img.size) <= 1600 and not img.getexif() and b"PhoneMaker" not in p.data


async def test_a_session_in_the_gender_month_is_tagged_to_it_and_one_outside_every_campaign_is_not_asked(app):
    head = await enrolled_plain(app)
    questions = [vi(q) for q in CAMPAIGN_QUESTIONS.values()]

    async def report(held_on: str, answer: str | None) -> list[str]:
        await head.say("/baocao")
        await head.say("1")  # Thôn 3
        after_date = await head.say(held_on)
        if answer is not None:
            await head.say(answer)
        for typed in ("1", "1 xong", "40", "15", "25", "khong", "bỏ qua", "xác nhận"):
            await head.say(typed)
        return after_date

    asked = await report("24/11/2026", "co")
    assert vi(CAMPAIGN_QUESTIONS["gender_month"]) in asked[-1]
    assert asked[-1].startswith(vi("{form} · Step {i}/{n}", form=vi("Outreach session report"), i=2, n=8))
    not_asked = await report("05/11/2026", None)
    assert not any(q in text for q in questions for text in not_asked)
    assert vi("What kind of session was it?") in not_asked[-1]
    tagged, untagged = await reports(app)
    assert (tagged.held_on, tagged.campaign) == (date(2026, 11, 24), "gender_month")
    assert (untagged.held_on, untagged.campaign) == (date(2026, 11, 5), None)
    assert (tagged.ref, untagged.ref) == ("BC-2026-0001", "BC-2026-0002")


async def test_a_date_moved_into_another_campaign_asks_about_that_campaign(app):
    """The answer "part of the campaign?" belongs to one campaign: moving the date from the gender
    month to 20/10 in the review asks about Vietnamese Women's Day before saving."""
    from handlers.forms.outreach import CAMPAIGN_QUESTIONS

    head = await enrolled(app)
    await walk_to_review(head)  # 24/11/2026, "No" to the Action Month for Gender Equality
    await head.press("✏️ 2")  # the date
    review = await head.say("20/10/2026")
    assert vi("Action Month for Gender Equality (15/11–15/12)") not in review[-1]
    asked = await head.press(vi("Confirm"))
    assert vi(CAMPAIGN_QUESTIONS["vn_women_day"]) in asked[-1]
    review = await head.press(vi("Yes"))
    assert vi("Vietnamese Women's Day 20/10") + ": " + vi("Yes") in review[-1]
    await head.press(vi("Confirm"))
    [report] = await reports(app)
    assert (report.held_on.isoformat(), report.campaign) == ("2026-10-20", "vn_women_day")


async def test_confirming_again_after_the_save_says_what_was_saved(app, clock):
    """A worried village head sends "xác nhận" once more: the answer is the report's number, not "I
    did not understand". Long after, the same word gets the usual answer."""
    head = await enrolled(app)
    await walk_to_review(head)
    saved = await head.say("xác nhận")
    assert saved[0] == vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001")
    for again in ("xác nhận", "xacnhan", "OK"):
        replies = await head.say(again)
        assert replies[0] == vi("{ref} has already been saved. Nothing more is needed.", ref="BC-2026-0001"), again
    clock.advance(seconds=3600)
    assert (await head.say("xác nhận"))[0] == vi("I did not understand that.")
    assert len(await reports(app)) == 1
