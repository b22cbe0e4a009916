"""Enrolment: invite codes, the phone number, and strangers who get nothing but an explanation."""

from sqlalchemy import select

from storage.models import Identity, Person, Report
from storage.people import phone_of
from tests.fakechannel import User
from tests.helpers import enrolled, make_invite, vi

EXPLAIN = (
    "Hello! This bot is for village heads and officers of the commune who have been invited. "
    "To use it, ask the culture-society office (Phòng Văn hóa - Xã hội) or the administrator "
    "for an invite code, then send: /start CODE"
)


async def test_a_stranger_only_learns_how_to_get_a_code(app):
    stranger = User(app, "s1")
    for attempt in ("/baocao", "xin chào", "/cuatoi", "/moi"):
        assert await stranger.say(attempt) == [vi(EXPLAIN)]
    assert await stranger.other("sticker") == [vi(EXPLAIN)]
    assert await stranger.press_data("f2:o1") == [vi(EXPLAIN)]
    async with app.sessions() as s:
        assert (await s.scalars(select(Person))).all() == []
        assert (await s.scalars(select(Report))).all() == []


async def test_a_village_head_enrols_with_the_deep_link_code_and_shares_a_phone(app):
    code = await make_invite(app)
    head = User(app)
    replies = await head.say(f"/start {code[:4]}-{code[4:].lower()}")
    assert head.last.reply.ask_contact
    replies = await head.contact("+84912345678")
    assert replies[0] == vi("Thank you, your phone number has been saved.")
    assert "Hoàng Văn Ba" in replies[1] and "Thôn 3" in replies[1] and vi("Village head") in replies[1]
    assert vi("Report an outreach session") in head.last.labels
    async with app.sessions() as s:
        person = await s.scalar(select(Person))
        assert phone_of(app.services.keyring, person) == "+84912345678"  # stored encrypted
        assert b"912345678" not in person.phone_enc
        identity = await s.scalar(select(Identity))
        assert (identity.channel, identity.external_id) == ("fake", "u1")


async def test_start_then_the_code_and_a_typed_phone(app):
    code = await make_invite(app)
    head = User(app)
    assert await head.say("/start") == [vi("Welcome! Please type the 8-character invite code you were given.")]
    await head.say(code)
    bad = await head.say("113")
    assert bad[0].startswith(vi("“{text}” does not look like a phone number. Type it like 0912 345 678, or press Skip.", text="113")[:10])
    await head.say("0912.345.678")
    async with app.sessions() as s:
        assert phone_of(app.services.keyring, await s.scalar(select(Person))) == "+84912345678"


async def test_a_code_works_once(app):
    code = await make_invite(app)
    await User(app, "a").say(f"/start {code}")
    replies = await User(app, "b").say(f"/start {code}")
    assert replies == [vi("That code is not valid: it may be mistyped, already used or expired. "
                          "Please check it and send it again, or ask the office for a new one.")]


async def test_an_expired_code_is_refused(app):
    code = await make_invite(app)
    app.clock.advance(days=8)
    replies = await User(app).say(f"/start {code}")
    assert "code" in replies[0].lower() or "mã" in replies[0]
    async with app.sessions() as s:
        assert (await s.scalars(select(Person))).all() == []


async def test_five_wrong_codes_lock_the_chat_for_an_hour(app):
    code = await make_invite(app)
    guesser = User(app, "g")
    for _ in range(5):
        await guesser.say("/start ABCDEFGH")
    locked = vi("Too many wrong codes. Please try again in an hour, or ask the office for a new code.")
    assert await guesser.say(f"/start {code}") == [locked]
    app.clock.advance(minutes=61)
    await guesser.say(f"/start {code}")
    assert guesser.last.reply.ask_contact


async def test_an_enrolled_person_sees_only_their_commands(app):
    head = await enrolled(app)
    labels = head.last.labels
    assert vi("Report an outreach session") in labels
    assert vi("Create an invite code") not in labels
    assert await head.say("/moi") == [vi("This command is not available for your role.")]


async def test_an_admin_creates_a_code_in_the_chat_that_enrols_a_reporter(app):
    admin = await enrolled(app, "adm", roles=("admin",), villages=(), org=None, name="Admin")
    await admin.say("/moi")
    await admin.press(vi("reporter"))
    replies = await admin.press("Thôn 7")
    code = replies[0].split("\n")[0].split(":")[-1].strip()
    head = User(app, "new")
    await head.say(f"/start {code}")
    replies = await head.press(vi("Skip"))
    assert any("Thôn 7" in r for r in replies)


async def test_language_switch_is_stored_on_the_person(app):
    head = await enrolled(app)
    await head.say("/ngonngu")
    replies = await head.press("English")
    assert replies[0] == "Language set to English."
    replies = await head.say("/baocao")
    assert replies[0].startswith("Outreach session report · Step 1/")
    async with app.sessions() as s:
        assert (await s.scalar(select(Person))).lang == "en"


async def test_greetings_while_a_code_is_awaited_never_count_as_wrong_codes(app):
    """After a follow (or /start), people say hello before they find their code: six greetings, then
    the code, and they are enrolled, not locked out for an hour."""
    from tests.fakechannel import User as Stranger

    person = Stranger(app, "follower")
    await person.say("/start")
    for hello in ("xin chào", "alo", "cho hỏi", "ok", "?", "chào anh"):
        answer = await person.say(hello)
        assert not any(vi("That code is not valid: it may be mistyped, already used or expired. Please check it and "
                          "send it again, or ask the office for a new one.") in a for a in answer)
    code = await make_invite(app)
    enrolled_now = await person.say(code)
    assert enrolled_now[-1].startswith(vi("You are enrolled. Please share your phone number so that the commune can "
                                          "call you back when needed. Press the button below or type the number. You "
                                          "may skip this."))
    typo = Stranger(app, "typo")
    await typo.say("/start")
    wrong = await typo.say("ABCD-123X")  # a mistyped code still counts as one
    assert wrong[0].startswith(vi("That code is not valid: it may be mistyped, already used or expired. Please check "
                                  "it and send it again, or ask the office for a new one.")[:30])
