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


async def answer_case(u: TgUser, *, kind="Domestic violence", forms=("Physical",), people=(("Female", "16–59"),),
                      consent="Agrees", description=DESCRIPTION) -> list[SentMessage]:
    """From the village question to the confirmation, as tests/test_case_form.py answers it."""
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
        await u.press(vi(age))
        await u.press(TICK + vi("Neither"))
        await u.press(vi("Done"))
    await u.press(vi("Male"))
    await u.press(vi("18–59"))
    await u.press(vi("Wife / husband"))
    await u.press(vi("First time"))
    await u.press(vi("Unknown"))
    await u.press(TICK + vi("Ordered to stop the violence"))
    await u.press(vi("Done"))
    await u.press(TICK + vi("Medical care"))
    await u.press(vi("Done"))
    await u.press(vi("No"))
    await u.press(TICK + vi("Commune police"))
    await u.press(vi("Done"))
    await u.press(vi(consent))
    await u.say(description)
    return await u.press(vi("Confirm"))


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


async def run_jobs(bot: TelegramBot) -> None:
    """What the scheduler does at the clock's time, then everything it queued delivered."""
    await bot.app.scheduler.run_due()
    bot.app.outbox.wake()
    await bot.settle()


# ---- 1. the urgent path ----------------------------------------------------------------------------


async def test_police_get_the_urgent_alert_before_the_reporter_is_asked_for_a_phone(telegram_bot):
    bot = await telegram_bot(clock=SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)
    before_form = [m.message_id for m in ba.messages]

    [danger_q] = await ba.say("/baotin")
    assert danger_q.text.endswith(vi("Is anyone's life or health in immediate danger right now?")) or \
        vi("Is anyone's life or health in immediate danger right now?") in danger_q.text
    mark = bot.emu.mark()
    replies = await ba.press(vi("Yes"))

    # Right after "Có", before the reporter answers anything else: the police chat has the alert.
    assert replies[-1].text.count(PHONE_Q) == 1  # the second question is only being asked now
    assert (await bot.draft_of(BA)).state.answers.get("phone") is None
    for role in ("police", "leader", "office"):
        [alert] = changed_since(bot.emu, team[role].id, mark)
        assert alert.text.startswith(URGENT), alert.text
        assert vi("Reported by: {name}, phone {phone}", name="Hoàng Văn Ba", phone=vi("no phone on file")) in alert.text
        assert vi("Village(s): {villages} (from the reporter's profile)", villages="Thôn 3") in alert.text
        assert alert.markup_kind == "inline" and alert.button_texts == [ACK]
    police_alert = team["police"].last
    assert "theo hồ sơ" in police_alert.text and police_alert.button_texts == ["Đã tiếp nhận"]

    # The reporter answers on; the coded details reach the three officers only when they confirm.
    await ba.say("0987 654 321")
    mark = bot.emu.mark()
    people = (("Female", "16–59"), ("Female", "Under 16"))
    review_and_more = await answer_case(ba, people=people)
    assert THANKS in texts(review_and_more)
    for role in ("police", "leader", "office"):
        [details] = changed_since(bot.emu, team[role].id, mark)
        assert details.text.startswith(URGENT + " · " + vi("coded details")), details.text
        assert vi("Forms of violence: {forms}", forms=vi("Physical")) in details.text
        assert vi("Village: {village} · Date: {date}", village="Thôn 3", date="24/11/2026") in details.text
        assert "+84987654321" in details.text and details.button_texts == [ACK]
    # No officer ever saw the description, in any message, before or after an edit.
    for role in ("police", "leader", "office"):
        assert not any(DESCRIPTION in t for t in sent_to(bot, team[role].id))
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.ref == REF and case.urgent and case.confirmed_at is not None
        assert [t.kind for t in (await s.scalars(select(CaseText))).all()] == ["description"]

    # The reporter's chat: what came before the form, then the neutral line and the menu. Telegram
    # deleted the questions, the answers shown, and the person's own messages too.
    # (The first question is left behind on a real clock: see the xfail test at the end.)
    after = [m for m in ba.messages if m.message_id != danger_q.message_id]
    assert [m.message_id for m in after[:len(before_form)]] == before_form
    assert texts(after[len(before_form):]) == [THANKS, vi("What would you like to do?")]
    gone = deleted_ids(bot, BA)
    for typed in ("/baotin", "0987 654 321", "2", DESCRIPTION):
        assert user_message_id(bot, BA, typed) in gone, typed
    assert await bot.outbox_failures() == []
