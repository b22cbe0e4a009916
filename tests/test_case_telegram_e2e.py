"""End to end on Telegram: a suspected case and its alerts, through the real App + TelegramChannel
against the Telegram emulator. The reporter and each officer are separate Telegram users; what
they see is read from the emulator's chats. The in-memory versions are in tests/test_case_form.py
and tests/test_safety.py.

Time: the bot runs on a SteppingClock (a FakeClock that also runs with real time), so a test moves
it on by 10 or 15 minutes and then runs the scheduler's jobs itself; nothing sleeps.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Alert, Case, CaseText
from storage.operations import touch_channels
from tests.emulators.telegram import SentMessage
from tests.helpers import vi
from tests.telegram_harness import (  # noqa: F401 - the *_fixture names register fixtures
    SteppingClock,
    TelegramBot,
    TgUser,
    changed_since,
    emulator_fixture,
    enrol,
    telegram_bot_fixture,
)
from tests.test_case_form import DESCRIPTION

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

BA, POLICE, LEADER, OFFICE, ADMIN = 1001, 2001, 2002, 2003, 2004
REF = "HS-2026-0001"
TICK = "▫️ "  # an option of a multiple choice, not chosen yet
ACK = vi("Acknowledge (Đã tiếp nhận)")
URGENT = vi("🔴 URGENT — case {ref}", ref=REF)
REMINDER = vi("Reminder: nobody has acknowledged this alert yet.")
THANKS = vi("Thank you. The case has been recorded as {ref}. The commune will follow it up; you can add "
            "information later with /cuatoi.", ref=REF)
PHONE_Q = vi("What phone number can the police call you back on?")
# kept in the chat after the form's questions are wiped: the numbers to call
NUMBERS = vi("If someone is in danger, call: {numbers}", numbers=" · ".join(
    [vi("Commune police {phone}", phone="0208 3000 113"), "113", vi("111 (if a child is involved)")]))


def texts(messages) -> list[str]:
    return [m.text for m in messages]


async def officers(bot: TelegramBot, *, admin: bool = False) -> dict[str, TgUser]:
    """The commune police, the chairman and the culture-society office (and an admin), each on Telegram."""
    people = {
        "police": (POLICE, "An", "Trần Công An"),
        "leader": (LEADER, "Tịch", "Lê Chủ Tịch"),
        "office": (OFFICE, "Hóa", "Phạm Văn Hóa"),
    }
    if admin:
        people["admin"] = (ADMIN, "Trị", "Quản Trị")
    out = {}
    for role, (user_id, first_name, name) in people.items():
        out[role] = bot.user(user_id, first_name)
        await enrol(bot, out[role], name=name, roles=(role,), villages=(), org=None)
    return out


async def reporter(bot: TelegramBot) -> TgUser:
    """Hoàng Văn Ba, head of Thôn 3, enrolled without a phone number."""
    ba = bot.user(BA, "Ba")
    await enrol(bot, ba)
    return ba


async def answer_case(u: TgUser, *, kind="Domestic violence", forms=("Physical",), people=(("Female", "35"),),
                      consent="Agrees", description=DESCRIPTION) -> list[SentMessage]:
    """From the village question to the review, as tests/test_case_form.py answers it."""
    await u.press("Thôn 3")
    await u.press(vi("Yesterday"))
    await u.press(vi("A relative or neighbour told me"))
    await u.press(vi(kind))
    for f in forms:
        await u.press(TICK + vi(f))
    await u.press(vi("Done"))
    await u.say(str(len(people)))
    for sex, age in people:
        await u.press(vi(sex))
        await u.say(age)  # an age in years: only its group is stored
        await u.press(TICK + vi("Neither"))
        await u.press(vi("Done"))
    await u.press(vi("Male"))
    await u.say("40")
    await u.press(vi("Wife / husband"))
    await u.press(vi("First time"))
    # The form asks in the words of the kind chosen, and only what applies to it (issue 12).
    if kind == "Domestic violence":
        await u.press(vi("Unknown"))  # fined before for domestic violence
    if kind != "Suspected human trafficking":
        await u.press(TICK + vi("Ordered to stop the violence"))
        await u.press(vi("Done"))
    else:
        await u.press(vi("Yes"))  # the victim needs support
    await u.press(TICK + vi("Medical care"))
    await u.press(vi("Done"))
    if kind != "Suspected human trafficking":
        await u.press(vi("No"))  # counselled
    await u.press(TICK + vi("Commune police"))
    await u.press(vi("Done"))
    await u.press(vi(consent))
    return await u.say(description)


def sent_to(bot: TelegramBot, chat_id: int) -> list[str]:
    """Every text the bot ever sent or edited into a chat, deleted or not (from the emulator's call log)."""
    return [str(p.get("text") or "") for name, p in bot.emu.calls
            if name in ("sendMessage", "editMessageText") and str(p.get("chat_id")) == str(chat_id)]


def deleted_ids(bot: TelegramBot, chat_id: int) -> set[int]:
    return {int(p["message_id"]) for name, p in bot.emu.calls
            if name == "deleteMessage" and str(p.get("chat_id")) == str(chat_id)}


def user_message_id(bot: TelegramBot, chat_id: int, text: str) -> int:
    """The id of the (last) message the person typed with that text."""
    ids = [u["message"]["message_id"] for u in bot.emu.updates
           if (u.get("message") or {}).get("chat", {}).get("id") == chat_id and u["message"].get("text") == text]
    assert ids, f"{chat_id} never typed {text!r}"
    return ids[-1]


async def start(telegram_bot, clock: SteppingClock) -> TelegramBot:
    """The bot on the emulator, its scheduler driven by the test: the scheduler's own loop (a pass
    every 5 s) is stopped, so that a job runs exactly when the test calls `run_jobs`."""
    bot = await telegram_bot(clock=clock)
    bot.app.scheduler.stop()
    return bot


async def run_jobs(bot: TelegramBot) -> None:
    """What the scheduler does at the clock's time, then everything it queued delivered."""
    async with bot.app.sessions() as s, s.begin():  # the heartbeat the bot would have written meanwhile
        await touch_channels(s, [bot.channel.name], now=bot.app.clock.now())
    await bot.app.scheduler.run_due()
    bot.app.outbox.wake()
    await bot.settle()


def new_since(bot: TelegramBot, people, mark: int) -> dict[str, list[SentMessage]]:
    return {role: changed_since(bot.emu, u.id, mark) for role, u in people.items()}


def assert_no_case_text(bot: TelegramBot, people) -> None:
    """No officer ever got the description, in any message, before or after an edit."""
    for u in people.values():
        assert not any(DESCRIPTION in t for t in sent_to(bot, u.id)), u.first_name


# ---- 1. the urgent path ----------------------------------------------------------------------------


async def test_police_get_the_urgent_alert_before_the_reporter_is_asked_for_a_phone(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)
    before_form = [m.message_id for m in ba.messages]

    [danger_q] = await ba.say("/baotin")
    assert vi("Is anyone's life or health in immediate danger right now?") in danger_q.text
    assert danger_q.button_texts[:2] == [vi("Yes"), vi("No")]
    mark = bot.emu.mark()
    replies = await ba.press(vi("Yes"))

    # Right after "Có", before the reporter answers anything else, each officer has the alert.
    numbers, phone_q = replies[-2:]
    assert numbers.text.startswith(vi("URGENT case {ref} has been created. The commune police and leaders are being "
                                      "alerted now.", ref=REF))
    assert PHONE_Q in phone_q.text  # the second question is only being asked now
    assert "phone" not in (await bot.draft_of(BA)).state.answers
    for role, [alert] in new_since(bot, team, mark).items():
        assert alert.text.startswith(URGENT), (role, alert.text)
        assert vi("Reported by: {name}, no phone number yet", name="Hoàng Văn Ba") in alert.text
        assert vi("Village(s): {villages} (from the reporter's profile)", villages="Thôn 3") in alert.text
        assert alert.markup_kind == "inline" and alert.button_texts == [ACK]
    police_alert = team["police"].last
    assert "theo hồ sơ" in police_alert.text and police_alert.button_texts == ["Đã tiếp nhận"]

    # The reporter gives a number: it reaches every officer at once, as a new message. Then nothing
    # more reaches them until the reporter confirms.
    assert bot.emu.reply_keyboard(BA) is not None  # the share-my-phone keyboard is up
    mark = bot.emu.mark()
    await ba.say("0987 654 321")
    # It is taken down (its buttons would type "Hủy" into whatever form is open later).
    assert bot.emu.reply_keyboard(BA) is None
    for role, [phone] in new_since(bot, team, mark).items():
        assert phone.text == vi("🔴 {ref}: the reporter's phone number: {phone}", ref=REF, phone="0987 654 321")
        assert phone.button_texts == [ACK], role
    mark = bot.emu.mark()
    [review] = (await answer_case(ba))[-1:]
    assert vi("Confirm") in review.button_texts
    assert new_since(bot, team, mark) == {"police": [], "leader": [], "office": []}
    replies = await ba.press(vi("Confirm"))
    assert any(t.startswith(THANKS) for t in texts(replies))
    for role, [details] in new_since(bot, team, mark).items():
        assert details.text.startswith(URGENT + " · " + vi("details from the lists, no description")), (role, details.text)
        assert vi("Forms of violence: {forms}", forms=vi("Physical")) in details.text
        assert vi("Village: {village} · Date: {date}", village="Thôn 3", date="24/11/2026") in details.text
        assert vi("Reported by: {name}, phone number {phone}", name="Hoàng Văn Ba", phone="0987 654 321") in details.text
        assert details.button_texts == [ACK]
    assert_no_case_text(bot, team)
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.ref == REF and case.urgent and case.confirmed_at is not None and case.police_routed
        assert [t.kind for t in (await s.scalars(select(CaseText))).all()] == ["description"]
        assert sorted((await s.scalars(select(Alert.kind))).all()) == ["details"] * 3 + ["urgent"] * 3

    # The reporter's chat: what came before the form, then the neutral line and the menu. Telegram
    # deleted the questions, the answers shown, and the person's own messages too.
    after = ba.messages
    assert [m.message_id for m in after[:len(before_form)]] == before_form
    assert texts(after[len(before_form):]) == [THANKS + "\n" + NUMBERS, vi("What would you like to do?")]
    assert danger_q.message_id in deleted_ids(bot, BA)
    gone = deleted_ids(bot, BA)
    for typed in ("/baotin", "0987 654 321", "1", DESCRIPTION):
        assert user_message_id(bot, BA, typed) in gone, typed
    assert numbers.message_id in gone and phone_q.message_id in gone and review.message_id in gone
    assert await bot.outbox_failures() == []


async def test_an_abandoned_urgent_report_sends_what_was_answered_after_fifteen_minutes(telegram_bot):
    clock = SteppingClock()
    bot = await start(telegram_bot, clock)
    team = await officers(bot)
    ba = await reporter(bot)
    await ba.say("/baotin")
    await ba.press(vi("Yes"))
    urgent = {role: u.last for role, u in team.items()}
    await ba.say("0987 654 321")
    await ba.press("Thôn 5")
    cancelled = await ba.say("/huy")
    assert vi("The form is closed. Urgent case {ref} stays recorded and the officers have been alerted; they will "
              "contact you.", ref=REF) + "\n" + NUMBERS in texts(cancelled)
    mark = bot.emu.mark()

    clock.advance(minutes=14)  # nobody acknowledged: a reminder at 10 minutes, no details yet
    await run_jobs(bot)
    for role, [reminder] in new_since(bot, team, mark).items():
        assert reminder.text.startswith(REMINDER + "\n" + URGENT), (role, reminder.text)
    mark = bot.emu.mark()
    clock.advance(minutes=2)
    await run_jobs(bot)
    for role, [details] in new_since(bot, team, mark).items():
        assert details.text.startswith(URGENT + " · " + vi("details from the lists, no description")), (role, details.text)
        assert vi("Village: {village} · Date: {date}", village="Thôn 5", date="—") in details.text
        assert vi("Kind: {kind}", kind="—") in details.text
        assert vi("Reported by: {name}, phone number {phone}", name="Hoàng Văn Ba", phone="0987 654 321") in details.text
        assert details.button_texts == [ACK]
    # The alert was not cancelled: still in every officer's chat, still waiting for someone.
    for role, alert in urgent.items():
        now_shown = next(m for m in team[role].messages if m.message_id == alert.message_id)
        assert now_shown.text == alert.text and now_shown.button_texts == [ACK]
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.confirmed_at is None and case.details_sent_at is not None
        assert case.ack_at is None and case.next_escalation_at is not None
    mark = bot.emu.mark()
    clock.advance(minutes=1)  # sent once only
    await run_jobs(bot)
    assert new_since(bot, team, mark) == {"police": [], "leader": [], "office": []}


# ---- 2. routing -----------------------------------------------------------------------------------


async def test_a_domestic_violence_case_reaches_the_office_and_leader_on_confirmation_only(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)
    mark = bot.emu.mark()
    await ba.say("/baotin")
    await ba.press(vi("No"))
    await answer_case(ba, kind="Domestic violence", forms=("Physical",), consent="Agrees")
    assert new_since(bot, team, mark) == {"police": [], "leader": [], "office": []}
    await ba.press(vi("Confirm"))
    arrived = new_since(bot, team, mark)
    assert arrived["police"] == []
    for role in ("leader", "office"):
        [details] = arrived[role]
        assert details.text.startswith(vi("Case {ref}", ref=REF) + " · " + vi("details from the lists, no description")), details.text
        assert not details.text.startswith("🔴")
        assert vi("Consent to share: {consent}", consent=vi("Agrees")) in details.text
        assert details.button_texts == [ACK]
    assert_no_case_text(bot, team)
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert not case.urgent and not case.police_routed and case.consent == "agreed"


async def test_a_trafficking_case_reaches_the_police_though_consent_is_refused(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)
    mark = bot.emu.mark()
    await ba.say("/baotin")
    await ba.press(vi("No"))
    await answer_case(ba, kind="Suspected human trafficking", forms=("Not yet clear",), consent="Does not agree")
    assert new_since(bot, team, mark) == {"police": [], "leader": [], "office": []}
    await ba.press(vi("Confirm"))
    for role, [details] in new_since(bot, team, mark).items():
        assert details.text.startswith(vi("Case {ref}", ref=REF) + " · " + vi("details from the lists, no description")), (role, details.text)
        assert vi("Kind: {kind}", kind=vi("Suspected human trafficking")) in details.text
        assert vi("Consent to share: {consent}", consent=vi("Does not agree")) in details.text
    assert_no_case_text(bot, team)
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.police_routed and case.kind == "trafficking" and case.consent == "refused"


# ---- 3. acknowledging and escalating -------------------------------------------------------------


async def test_the_police_acknowledge_and_everyone_including_the_reporter_is_told(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)
    await ba.say("/baotin")
    await ba.press(vi("Yes"))
    mark = bot.emu.mark()

    taken = await team["police"].press(ACK)
    assert texts(taken) == [vi("You have acknowledged case {ref}. The others have been told.", ref=REF)]
    told = vi("Case {ref} has been acknowledged by {name} ({role}).", ref=REF, name="Trần Công An",
              role=vi("commune police"))
    assert texts(changed_since(bot.emu, LEADER, mark)) == [told]
    assert texts(changed_since(bot.emu, OFFICE, mark)) == [told]
    assert texts(changed_since(bot.emu, BA, mark)) == [vi("An officer has taken up case {ref}.", ref=REF)]

    late = await team["leader"].press(ACK)  # on the alert the leader got first
    assert texts(late) == [vi("Case {ref} was already acknowledged by {name}.", ref=REF, name="Trần Công An")]
    assert await team["police"].all_presses_answered() and await team["leader"].all_presses_answered()
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.ack_at is not None and case.next_escalation_at is None
        acked = (await s.scalars(select(Alert).where(Alert.acknowledged_by.is_not(None)))).all()
        assert {a.recipient_id for a in acked} == {case.ack_by}


async def test_an_unacknowledged_alert_is_escalated_by_the_restarted_bot_until_someone_acknowledges(telegram_bot):
    clock = SteppingClock()
    bot = await start(telegram_bot, clock)
    team = await officers(bot, admin=True)
    ba = await reporter(bot)
    await ba.say("/baotin")
    await ba.press(vi("Yes"))
    assert not any(m.text.startswith(URGENT) for m in team["admin"].messages)
    mark = bot.emu.mark()
    clock.advance(minutes=9)
    await run_jobs(bot)
    assert new_since(bot, team, mark) == {"police": [], "leader": [], "office": [], "admin": []}

    # The bot restarts while the alert waits: a new App on the same database, emulator and clock.
    await bot.app.stop()
    bot = await start(telegram_bot, clock)
    for u in (*team.values(), ba):
        u.bot = bot
    clock.advance(minutes=2)
    await run_jobs(bot)
    for role, [again] in new_since(bot, team, mark).items():
        assert again.text.startswith(REMINDER + "\n" + URGENT), (role, again.text)
        assert vi("Reported by: {name}, no phone number yet", name="Hoàng Văn Ba") in again.text
        assert again.button_texts == [ACK]

    # Someone acknowledges the reminder: no more reminders. (The coded details still follow at 15
    # minutes, as for any urgent case, without a button.)
    mark = bot.emu.mark()
    await team["police"].press(ACK)
    told = vi("Case {ref} has been acknowledged by {name} ({role}).", ref=REF, name="Trần Công An",
              role=vi("commune police"))
    assert {role: texts(m) for role, m in new_since(bot, team, mark).items()} == {
        "police": [vi("You have acknowledged case {ref}. The others have been told.", ref=REF)],
        "leader": [told], "office": [told], "admin": [told]}
    mark = bot.emu.mark()
    clock.advance(minutes=10)
    await run_jobs(bot)
    arrived = new_since(bot, team, mark)
    assert arrived["admin"] == []
    for role in ("police", "leader", "office"):
        [details] = arrived[role]
        assert details.text.startswith(URGENT + " · " + vi("details from the lists, no description")) and details.buttons == [], details.text
    mark = bot.emu.mark()
    clock.advance(minutes=10)
    await run_jobs(bot)
    assert new_since(bot, team, mark) == {"police": [], "leader": [], "office": [], "admin": []}
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.escalation_step == 1 and case.next_escalation_at is None
        assert sorted((await s.scalars(select(Alert.role).where(Alert.kind == "urgent"))).all()) == \
            ["admin", "leader", "leader", "office", "office", "police", "police"]


# ---- 4. the edges of the chat clean-up ----------------------------------------------------------------------


async def test_the_first_question_of_a_case_form_is_deleted_too(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    ba = await reporter(bot)
    before_form = [m.message_id for m in ba.messages]
    [danger_q] = await ba.say("/baotin")
    await ba.press(vi("No"))
    await ba.say("/huy")
    assert danger_q.message_id in deleted_ids(bot, BA)
    assert [m.message_id for m in ba.messages][:-2] == before_form


async def test_a_reporter_who_cancels_an_urgent_case_is_not_told_that_nothing_was_saved(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    ba = await reporter(bot)
    await ba.say("/baotin")
    await ba.press(vi("Yes"))
    replies = texts(await ba.say("/huy"))
    assert vi("The draft has been cancelled. Nothing was saved.") not in replies
    assert vi("The form is closed. Urgent case {ref} stays recorded and the officers have been alerted; they will "
              "contact you.", ref=REF) + "\n" + NUMBERS in replies


