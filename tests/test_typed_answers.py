"""What people type is read as they meant it, or refused with a reason: ages, numbers with letters
in them, counts that cannot be, and characters that turn text around. Each conversation runs on the
fake channel with buttons and on the plain channel (numbered lists, typed answers: the Zalo Bot)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from sqlalchemy import select

from storage.drafts import load_draft
from storage.models import Case, CasePerson, Person, Report
from tests.fakechannel import PlainUser, User
from tests.helpers import enrolled, enrolled_plain, vi
from tests.test_case_form import officers

CHANNELS = ("buttons", "plain")
FORM = vi("Outreach session report")
AGE_Q = vi("How old is this person? An approximate age is fine; if you do not know, type 'không rõ'.")
PERPETRATOR_AGE_Q = vi("How old is the person who committed the violence? An approximate age is fine; if you do "
                       "not know, type 'không rõ'.")
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


async def person_on(app, channel: str, user_id: str = "head", **kw) -> User:
    if channel == "plain":
        return await enrolled_plain(app, user_id, **kw)
    return await enrolled(app, user_id, **kw)


def numbered(user: User, label: str) -> str:
    """The number a plain-channel reader types for `label` in the newest list ("3. Thôn 3", "1. [ ] Thể chất")."""
    for line in user.last.text.splitlines():
        m = re.fullmatch(r"(\d+)\. (?:\[[ x]\] )?(.+)", line)
        if m and m[2] == label:
            return m[1]
    raise AssertionError(f"no {label!r} in {user.last.text!r}")


async def choose(user: User, label: str) -> list[str]:
    """A button pressed, or on the plain channel its number typed."""
    if isinstance(user, PlainUser):
        return await user.say(numbered(user, label))
    return await user.press(label)


async def choose_all(user: User, labels: list[str]) -> list[str]:
    for label in labels:
        await choose(user, label)
    return await (user.say("xong") if isinstance(user, PlainUser) else user.press(vi("Done")))


async def answer_yes_no(user: User, yes: bool) -> list[str]:
    return await choose(user, vi("Yes") if yes else vi("No"))


# ---- the case form, up to its age questions ------------------------------------------------------


async def case_to_first_age(user: User, *, urgent: bool = True) -> list[str]:
    """/baotin to "How old is this person?". Urgent: the case exists and keeps its coded answers current."""
    await user.say("/baotin")
    await answer_yes_no(user, urgent)
    if urgent:
        await user.say("bỏ qua")  # no phone on file: the police's call-back number, skipped
    await choose(user, "Thôn 3")
    await user.say("hôm qua")
    await choose(user, vi("A relative or neighbour told me"))
    await choose(user, vi("Domestic violence"))
    await choose_all(user, [vi("Physical")])
    await user.say("1")
    return await choose(user, vi("Female"))


async def to_perpetrator_age(user: User, age: str = "35") -> list[str]:
    await case_to_first_age(user)
    await user.say(age)
    await choose_all(user, [vi("Neither")])
    return await choose(user, vi("Male"))


async def stored_people(app) -> list[str | None]:
    async with app.sessions() as s:
        return list((await s.scalars(select(CasePerson.age_group).order_by(CasePerson.position))).all())


async def stored_case(app) -> Case:
    async with app.sessions() as s:
        return await s.scalar(select(Case))


async def draft_answers(app) -> dict:
    async with app.sessions() as s:
        person_id = await s.scalar(select(Person.id).order_by(Person.id.desc()))
        draft = await load_draft(s, app.services.keyring, person_id)
        return draft.state.answers


# ---- 6. ages are ages --------------------------------------------------------------------------


SUBJECT_AGES = [
    ("3", "u16"),  # a three-year-old, never option 3
    ("3 tuổi", "u16"),
    ("0", "u16"),
    ("15", "u16"),
    ("16", "16_59"),
    ("35 tuoi", "16_59"),
    ("khoảng 40", "16_59"),
    ("khoang 40", "16_59"),
    ("40 tuổi", "16_59"),
    ("59", "16_59"),
    ("60", "60p"),
    ("khoảng 75 tuổi", "60p"),
    ("không rõ", "unknown"),
    ("khong ro", "unknown"),
    ("ko ro", "unknown"),
]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_village_head_types_the_age_of_the_person_subjected(app, channel):
    """Every way of typing an age, in one conversation: each answer is typed, checked, and then
    "quay lại" asks the age again (walking the form anew for each one was most of the time)."""
    head = await person_on(app, channel)
    asked = await case_to_first_age(head)
    for typed, group in SUBJECT_AGES:
        assert AGE_Q in asked[-1], typed
        if channel == "plain":
            # No numbered age groups to mistake an age for: "Không rõ" is a word to type.
            assert "\n1. " not in head.last.text and vi("Unknown") in head.last.text, typed
        else:
            assert head.last.labels[0] == vi("Unknown"), typed
        replies = await head.say(typed)
        assert vi("Does any of these apply? Choose all that apply.") in replies[-1], typed
        assert await stored_people(app) == [group], typed
        # The draft keeps the group and nothing else about the age.
        assert (await draft_answers(app))["people"] == [{"sex": "female", "age_group": group}], typed
        asked = await head.say("quay lại")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_unknown_button_is_pressed_or_typed(app, channel):
    head = await person_on(app, channel)
    await case_to_first_age(head)
    if channel == "plain":
        await head.say("Không rõ")
    else:
        await head.press(vi("Unknown"))
    assert await stored_people(app) == ["unknown"]


PERPETRATOR_AGES = [("15", "u16"), ("16", "16_17"), ("17", "16_17"), ("18", "18_59"), ("khoảng 45", "18_59"),
                    ("59", "18_59"), ("60", "60p"), ("ko ro", "unknown")]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_age_of_the_person_who_committed_it(app, channel):
    """Each age typed in turn in one conversation, "quay lại" asking it again after each."""
    head = await person_on(app, channel)
    asked = await to_perpetrator_age(head)
    for typed, group in PERPETRATOR_AGES:
        assert PERPETRATOR_AGE_Q in asked[-1], typed
        replies = await head.say(typed)
        assert vi("Their relationship to the person subjected?") in replies[-1], typed
        assert (await stored_case(app)).perpetrator_age == group, typed
        asked = await head.say("quay lại")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_impossible_age_is_refused_politely_and_asked_again(app, channel):
    head = await person_on(app, channel)
    await case_to_first_age(head)
    refused = await head.say("150")
    assert refused[0] == vi("“{text}” is not a possible age. Please type the age in years, e.g. 35, or 'không rõ'.",
                            text="150")
    assert AGE_Q in refused[1]
    refused = await head.say("3o")
    assert refused[0] == vi("“{text}” has the letter “{letter}” mixed into the number. Please type digits only, "
                            "e.g. {guess}.", text="3o", letter="o", guess="30")
    refused = await head.say("ba tuổi")
    assert refused[0] == vi("I could not read “{text}” as an age. Please type the age in years, e.g. 35 (an "
                            "approximate age is fine), or 'không rõ'.", text="ba tuổi")
    assert await stored_people(app) == [None]  # nothing was taken from the refused answers
    await head.say("3")
    assert await stored_people(app) == ["u16"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_age_range_across_two_groups_is_asked_again(app, channel):
    head = await person_on(app, channel)
    await to_perpetrator_age(head)
    refused = await head.say("15-17")  # under 16, or 16–17?
    assert refused[0] == vi("“{text}” could fall in more than one age group. Please type one approximate age, "
                            "e.g. 35.", text="15-17")
    assert PERPETRATOR_AGE_Q in refused[1]
    await head.say("16 đến 17")
    assert (await stored_case(app)).perpetrator_age == "16_17"


async def finish_case(user: User) -> list[str]:
    """From "Their relationship?" to the review."""
    await choose(user, vi("Wife / husband"))
    await choose(user, vi("First time"))
    await choose(user, vi("Unknown"))
    await choose_all(user, [vi("Ordered to stop the violence")])
    await choose_all(user, [vi("Medical care")])
    await choose(user, vi("No"))
    await choose_all(user, [vi("Commune police")])
    await choose(user, vi("Agrees"))
    return await user.say("bỏ qua")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_review_names_the_age_group_and_the_case_stores_it(app, channel):
    police, leader, office = await officers(app)
    head = await person_on(app, channel)
    await case_to_first_age(head, urgent=False)
    await head.say("3 tuổi")
    await choose_all(head, [vi("Neither")])
    await choose(head, vi("Male"))
    await head.say("khoang 17")
    review = (await finish_case(head))[-1]
    person = vi("Person subjected to violence no. {n}", n=1)
    assert f"{person} · {vi('Age group')}: {vi('Under 16')}" in review
    assert f"{vi('Person who committed it: age group')}: {vi('16–17')}" in review
    assert "3 tuổi" not in review and "khoang 17" not in review
    await (head.say("xác nhận") if channel == "plain" else head.press(vi("Confirm")))
    assert await stored_people(app) == ["u16"]
    case = await stored_case(app)
    assert case.perpetrator_age == "16_17" and case.confirmed_at is not None


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_unknown_age_reads_naturally_on_the_review_and_in_the_alert(app, channel):
    police, leader, office = await officers(app)
    head = await person_on(app, channel)
    await case_to_first_age(head, urgent=False)
    await head.say("không rõ")
    await choose_all(head, [vi("Neither")])
    await choose(head, vi("Male"))
    await head.say("khong ro")
    review = (await finish_case(head))[-1]
    assert f"{vi('Age group')}: {vi('Unknown')}" in review
    assert f"{vi('Person who committed it: age group')}: {vi('Unknown')}" in review
    await (head.say("xác nhận") if channel == "plain" else head.press(vi("Confirm")))
    details = office.last.text
    assert vi("Person subjected {n}: {sex}, {age}", n=1, sex=vi("Female"), age=vi("Age not known")) in details
    assert vi("Person who committed it: {sex}, {age}, {relationship}", sex=vi("Male"), age=vi("Age not known"),
              relationship=vi("Wife / husband")) in details
    assert "unknown" not in details
    assert await stored_people(app) == ["unknown"]


# ---- 7. no silent number repair ----------------------------------------------------------------


async def outreach_to_total(user: User) -> list[str]:
    await user.say("/baocao")
    await choose(user, "Thôn 3")
    await user.say("hôm qua")
    await answer_yes_no(user, False)  # not part of the gender month (the tests' clock is inside it)
    await choose(user, vi("Village meeting / conference"))
    return await choose_all(user, [vi("Law on Gender Equality")])


async def finish_outreach(user: User, *, male: str, female: str, details: list[str] | None = None) -> None:
    await user.say(male)
    await user.say(female)
    await answer_yes_no(user, details is not None)
    if details is not None:
        for answer in details:
            await user.say(answer)
    await user.say("bỏ qua")  # the photos
    await (user.say("xác nhận") if isinstance(user, PlainUser) else user.press(vi("Confirm")))


async def stored_report(app) -> Report:
    async with app.sessions() as s:
        return (await s.scalars(select(Report))).one()


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("typed", "letter", "guess", "meant", "total"),
    [("5o", "o", "50", "50 người", 50), ("1o0", "o", "100", "100 nguoi", 100), ("l0", "l", "10", "10ng", 10),
     ("O5", "O", "5", "khoảng 5", 5), ("5O", "O", "50", "50 lượt", 50), ("1l", "l", "11", "11", 11)],
)
async def test_a_village_head_types_a_letter_among_the_digits(app, channel, typed, letter, guess, meant, total):
    head = await person_on(app, channel)
    asked = await outreach_to_total(head)
    assert vi("How many attendances in total (lượt người)?") in asked[-1]
    refused = await head.say(typed)
    assert refused[0] == vi("“{text}” has the letter “{letter}” mixed into the number. Please type digits only, "
                            "e.g. {guess}.", text=typed, letter=letter, guess=guess)
    assert vi("How many attendances in total (lượt người)?") in refused[1]
    # Typed again as meant, with the words people use around it: read, and stored.
    assert vi("Of them, how many men?") in (await head.say(meant))[-1]
    await finish_outreach(head, male=f"{total} nam", female="0 nữ")
    report = await stored_report(app)
    assert (report.attendees_total, report.attendees_male, report.attendees_female) == (total, total, 0)


# ---- 8. plausibility --------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
async def test_young_people_and_ethnic_minority_cannot_outnumber_the_attendances(app, channel):
    head = await person_on(app, channel)
    await outreach_to_total(head)
    await head.say("50")
    await head.say("20")
    await head.say("30")
    await answer_yes_no(head, True)
    for _ in range(4):  # language, leaflets, banners, loudspeaker minutes (the campaign was asked after the date)
        await head.say("bỏ qua")
    assert vi("Of the attendances, how many were young people?") in head.last.text
    refused = await head.say("60")
    assert refused[0] == vi("Young people ({n}) cannot be more than the attendances in total ({total}). Please type "
                            "the number again.", n="60", total="50")
    assert vi("Of the attendances, how many were young people?") in refused[1]
    await head.say("20")
    refused = await head.say("100")
    assert refused[0] == vi("Attendances from ethnic minorities ({n}) cannot be more than the attendances in total "
                            "({total}). Please type the number again.", n="100", total="50")
    await head.say("50")  # all of them: fine
    await head.say("bỏ qua")  # the note
    await head.say("bỏ qua")  # the photos
    await (head.say("xác nhận") if channel == "plain" else head.press(vi("Confirm")))
    report = await stored_report(app)
    assert (report.attendees_total, report.youth, report.ethnic_minority) == (50, 20, 50)


CONFIRM_Q = "Is this right? {n} attendances at one session. Type the number again or answer Yes to keep it; No to change it."


@pytest.mark.parametrize(("channel", "again"), [
    *((channel, again) for channel in CHANNELS for again in ("có", "đúng", "1500", "1.500 người")),
    ("buttons", None),  # the Yes button
])
async def test_a_very_large_total_is_asked_about_once(app, channel, again):
    head = await person_on(app, channel)
    await outreach_to_total(head)
    [asked] = await head.say("1500")
    assert asked.startswith(vi(CONFIRM_Q, n="1.500"))
    if channel == "plain":
        assert "\n1. " not in asked and "» " + vi("Yes") + " · " + vi("No") in asked  # words, not numbers
    replies = await (head.press(vi("Yes")) if again is None else head.say(again))
    assert vi("Of them, how many men?") in replies[-1]  # asked once: on to the next question
    await finish_outreach(head, male="700", female="800")
    report = await stored_report(app)
    assert (report.attendees_total, report.attendees_male, report.attendees_female) == (1500, 700, 800)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_no_to_a_very_large_total_asks_the_number_again(app, channel):
    head = await person_on(app, channel)
    await outreach_to_total(head)
    await head.say("1500")
    replies = await (head.say("không") if channel == "plain" else head.press(vi("No")))
    assert vi("How many attendances in total (lượt người)?") in replies[-1]
    replies = await head.say("150")  # what was meant: no question this time
    assert vi("Of them, how many men?") in replies[-1]
    await finish_outreach(head, male="70", female="80")
    assert (await stored_report(app)).attendees_total == 150


@pytest.mark.parametrize("channel", CHANNELS)
async def test_another_large_number_instead_of_yes_is_asked_about_in_its_turn(app, channel):
    head = await person_on(app, channel)
    await outreach_to_total(head)
    await head.say("15000")
    [asked] = await head.say("1.200")
    assert asked.startswith(vi(CONFIRM_Q, n="1.200"))
    await head.say("có")
    await finish_outreach(head, male="600", female="600")
    assert (await stored_report(app)).attendees_total == 1200


# ---- 16. text direction and control characters -----------------------------------------------


def clean(texts: list[str]) -> bool:
    return not any(unicodedata.category(ch) in ("Cf", "Cc") and ch != "\n" for text in texts for ch in text)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_refusal_never_echoes_text_direction_characters(app, channel):
    head = await person_on(app, channel)
    await head.say("/baocao")
    await choose(head, "Thôn 3")
    await head.say("hôm qua")
    await answer_yes_no(head, False)  # not part of the gender month
    refused = await head.say("\u202eabc" + BIDI + "def")
    refusal = ("“{text}” is not one of the options. Please press a button or type its number." if channel == "buttons"
               else "“{text}” is not one of the options. Please type the number of an option.")
    assert refused[0] == vi(refusal, text="abcdef")
    await choose(head, vi("Village meeting / conference"))
    await choose_all(head, [vi("Law on Gender Equality")])
    refused = await head.say("5\u202eo")
    assert refused[0] == vi("“{text}” has the letter “{letter}” mixed into the number. Please type digits only, "
                            "e.g. {guess}.", text="5o", letter="o", guess="50")
    refused += await head.say("\u2067khoảng\u2069 \u202e" + "x" * 80)
    assert refused[-2] == vi("“{text}” is not a number. Please type a whole number, e.g. 45.",
                             text="khoảng " + "x" * 32 + "…")
    assert clean(refused)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_age_refusal_never_echoes_them(app, channel):
    head = await person_on(app, channel)
    await case_to_first_age(head)
    refused = await head.say("1\u202e50")
    assert refused[0] == vi("“{text}” is not a possible age. Please type the age in years, e.g. 35, or 'không rõ'.",
                            text="150")
    assert clean(refused)


async def test_commands_quote_their_argument_without_them(app):
    office = await enrolled(app, "office", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    replies = await office.say("/thon \u202eThôn 99\u202c")
    assert replies[0] == vi("No village is called “{text}”.", text="Thôn 99")
    replies = await office.say("/tuan \u2066abc\u2069")
    assert replies[0].startswith(vi("I could not read “{text}” as a period.", text="abc") + " "
                                 + vi("Examples: {command}, {command} truoc, {command} 2026-W47, {command} 11/2026, "
                                      "{command} quy 2, {command} 6 thang, {command} 6 thang cuoi nam, {command} nam "
                                      "2026, {command} 01/11/2026-15/11/2026", command="/tuan"))
    head = await enrolled(app)
    replies = await head.say("/rutlai HS-\u202e2026-9999")
    assert replies[0] == vi("No case of yours has the reference {ref}.", ref="HS-2026-9999")
    replies = await head.say("/cuatoi BC-\u200f2026-9999")
    assert replies[0] == vi("No report of yours has the reference {ref}.", ref="BC-2026-9999")
    assert clean(m.text for m in office.messages + head.messages)


async def test_the_phone_question_at_enrolment_quotes_without_them(app):
    from tests.fakechannel import User
    from tests.helpers import make_invite

    user = User(app, "newcomer")
    await user.say(f"/start {await make_invite(app)}")
    replies = await user.say("\u202e12345")
    assert replies[0] == vi("“{text}” does not look like a phone number. Type it like 0912 345 678, or press Skip.",
                            text="12345")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_none_typed_with_another_answer_is_refused_not_dropped(app, channel):
    """"1 3 xong" where 1 is "Has a disability" and 3 "Neither": before, the last one won and the
    disability was dropped without a word (and "Physical" + "Not yet clear" were both kept). Now the
    contradiction is refused, and the person types again."""
    head = await person_on(app, channel)
    await case_to_first_age(head)
    asked = await head.say("35")
    assert vi("Does any of these apply? Choose all that apply.") in asked[-1]
    disabled, neither = (numbered(head, vi(label)) if channel == "plain" else str(i)
                         for label, i in (("Has a disability", 1), ("Neither", 3)))
    refused = await head.say(f"{disabled} {neither} xong")
    assert refused[0] == vi("“{option}” cannot be chosen together with other answers. Type only the numbers that "
                            "apply, or only the number of “{option}”.", option=vi("Neither"))
    assert vi("Does any of these apply? Choose all that apply.") in refused[-1]  # asked again, nothing kept
    assert "flags" not in (await draft_answers(app))["people"][0]
    await head.say(f"{disabled} xong")
    assert (await draft_answers(app))["people"][0]["flags"] == ["disabled"]
