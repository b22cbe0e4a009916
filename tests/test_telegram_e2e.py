"""End to end on Telegram: the real bot (App + TelegramChannel + python-telegram-bot) against the
Telegram emulator, over HTTP on 127.0.0.1. Each test is one conversation.

Expected texts come from the catalog through `vi(...)`, never spelled out, so the tests hold while
the Vietnamese translation changes.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.channels.split import split_text
from core.events import Reply
from handlers.forms.outreach import CAMPAIGN_QUESTIONS
from storage import outbox as outbox_store
from storage.models import InboxEvent, OutboxMessage, Person, Photo, Report, ReportTopic
from storage.people import phone_of
from storage.stats import campaign_on
from tests.emulators.telegram import utf16_len
from tests.helpers import vi
from tests.telegram_harness import (  # noqa: F401 - the *_fixture names register fixtures
    PUBLIC_URL,
    SETTLE_TIMEOUT,
    TOKEN,
    TOKEN_SECRET,
    WEBHOOK_SECRET,
    BotProcess,
    command_names,
    emulator_fixture,
    enrol,
    eventually,
    jpeg,
    report_until_review,
    telegram_bot_fixture,
)

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

BA = 1001  # Hoàng Văn Ba, head of Thôn 3
FORM = vi("Outreach session report")
ALREADY = vi("That question has already been answered. Here is where you are now:")


def step(i: int, n: int = 8) -> str:
    """The outreach form's question i: eight in its first part, then the photos, a part of their own."""
    if i == 9:
        return vi("{form} · Step {i}/{n}", form=FORM, i=1, n=1)
    return vi("{form} · Step {i}/{n}", form=FORM, i=i, n=n)


def texts(messages) -> list[str]:
    return [m.text for m in messages]


# ---- 1. enrolment and a first report ------------------------------------------------------------


async def test_a_village_head_enrols_on_telegram_and_reports_a_meeting(telegram_bot):
    bot = await telegram_bot()
    emu = bot.emu
    ba = bot.user(BA, "Ba", last_name="Hoàng")
    code = await bot.invite(name="Hoàng Văn Ba")

    # The invite link t.me/xuanduong_bot?start=CODE makes the app send "/start CODE".
    [ask_phone] = await ba.say(f"/start {code}")
    assert ask_phone.text == vi(
        "You are enrolled. Please share your phone number so that the commune can call you back "
        "when needed. Press the button below or type the number. You may skip this.")
    assert ask_phone.markup_kind == "keyboard"
    share, *others = [b for row in emu.reply_keyboard(BA) for b in row]
    assert share["request_contact"] is True and share["text"].startswith("📱")
    assert [b["text"] for b in others] == [vi("Skip")]

    # Sharing the contact saves the number and greets with the main menu as inline buttons.
    thanks, greeting = await ba.share_contact("84912345678")
    assert thanks.text == vi("Thank you, your phone number has been saved.")
    who = vi("{roles} — {where}", roles=vi("Village head"), where="Thôn 3")
    assert greeting.text == vi("Hello {name}! You are registered as: {who}.", name="Hoàng Văn Ba", who=who)
    assert greeting.markup_kind == "inline"
    assert ("m:baocao", vi("Report an outreach session")) in [(d, t) for row in greeting.buttons for t, d in row]
    [person] = await bot.rows(Person)
    assert phone_of(bot.app.services.keyring, person) == "+84912345678" and person.phone_asked
    # The command menu beside the text box is set for this chat, by role.
    assert "baocao" in command_names(emu, f"chat:{BA}") and "cuatoi" in command_names(emu, f"chat:{BA}")
    assert "moi" not in command_names(emu, f"chat:{BA}")  # admins only
    assert set(command_names(emu, "default")) == {"start", "trogiup"}

    # The report, pressing buttons where there are some.
    [village_q] = await ba.press(vi("Report an outreach session"))
    assert village_q.text.startswith(step(1)) and village_q.button_texts[0] == "Thôn 3"
    closed, date_q = await ba.press("Thôn 3")
    assert closed.message_id == village_q.message_id  # the answered question is edited in place:
    assert closed.text.endswith("→ Thôn 3") and closed.buttons == []  # answer shown, buttons gone
    assert date_q.text.startswith(step(2))
    # 24/11 is in the Action Month for Gender Equality: one yes/no on the date's step, then on.
    [campaign_q] = await ba.say("hôm qua")
    assert campaign_q.text.startswith(step(2)) and vi(CAMPAIGN_QUESTIONS["gender_month"]) in campaign_q.text
    _, format_q = await ba.press(vi("No"))
    assert format_q.text.startswith(step(3))
    _, topics_q = await ba.press(vi("Village meeting / conference"))
    assert topics_q.text.startswith(step(4))

    # Toggling a topic edits the same message with a tick; nothing new is sent.
    count = len(ba.messages)
    [toggled] = await ba.press("▫️ " + vi("Law on Gender Equality"))
    assert toggled.message_id == topics_q.message_id and toggled.edits == 1
    assert "✅ " + vi("Law on Gender Equality") in toggled.button_texts
    [toggled] = await ba.press("▫️ " + vi("Domestic violence prevention"))
    assert toggled.message_id == topics_q.message_id and toggled.edits == 2
    assert "✅ " + vi("Domestic violence prevention") in toggled.button_texts
    [toggled] = await ba.press("✅ " + vi("Law on Gender Equality"))  # and off again
    assert "▫️ " + vi("Law on Gender Equality") in toggled.button_texts
    await ba.press("▫️ " + vi("Law on Gender Equality"))
    assert len(ba.messages) == count
    closed, total_q = await ba.press(vi("Done"))
    assert closed.message_id == topics_q.message_id and closed.buttons == []
    assert closed.text.endswith("→ " + vi("Domestic violence prevention") + "; " + vi("Law on Gender Equality"))
    assert total_q.text.startswith(step(5))

    assert texts(await ba.say("120"))[-1].startswith(step(6))
    assert texts(await ba.say("50"))[-1].startswith(step(7))
    assert texts(await ba.say("70"))[-1].startswith(step(8))
    _, photo_q = await ba.press(vi("No"))
    assert photo_q.text.startswith(step(9))
    got, photo_q = await ba.send_photo(jpeg(2400, 1800))
    assert got.text == vi("Photo {n} received. Send another, or press Done.", n=1)
    assert vi("Photos so far: {n}/{max}", n=1, max=3) in photo_q.text

    # The review is HTML (the emulator parses it as Telegram does) and nothing is stored yet.
    _, review = await ba.press(vi("Done"))
    assert review.parse_mode == "HTML" and review.raw_text.startswith("<b>")
    assert review.entities[0]["type"] == "bold" and review.text.startswith(vi("Review: {form}", form=FORM))
    for shown in ("Thôn 3", "24/11/2026", vi("Village meeting / conference"), "120", "50", "70",
                  vi("{n} photo(s)", n=1)):
        assert shown in review.text
    assert await bot.rows(Report) == []

    thanks, menu = await ba.press(vi("Confirm"))
    assert thanks.text == vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001")
    assert menu.markup_kind == "inline"

    [report] = await bot.rows(Report)
    assert (report.ref, report.village_id, report.held_on, report.format) == (
        "BC-2026-0001", "t03", date(2026, 11, 24), "meeting")
    assert (report.attendees_total, report.attendees_male, report.attendees_female) == (120, 50, 70)
    assert report.person_id == person.id and report.superseded_at is None
    assert {t.topic for t in await bot.rows(ReportTopic, order=ReportTopic.topic)} == {
        "gender_equality", "domestic_violence"}
    [photo] = await bot.rows(Photo)
    assert photo.report_id == report.id and max(Image.open(io.BytesIO(photo.data)).size) <= 1600

    assert await ba.all_presses_answered()  # no button was left spinning
    assert await bot.outbox_failures() == []


async def test_the_share_phone_button_speaks_vietnamese(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say(f"/start {await bot.invite()}")
    share = bot.emu.reply_keyboard(BA)[0][0]
    assert share["request_contact"] is True
    assert share["text"] != "📱 Share my phone number"


async def test_the_share_phone_keyboard_goes_away_after_enrolment(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say(f"/start {await bot.invite()}")
    assert bot.emu.reply_keyboard(BA) is not None
    await ba.share_contact("84912345678")
    assert bot.emu.reply_keyboard(BA) is None  # else the share button stays one tap away for good


# ---- 2. a correction ------------------------------------------------------------------------------


async def test_a_village_head_corrects_the_date_of_a_report(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await enrol(bot, ba)
    await report_until_review(ba, photo=jpeg())
    await ba.press(vi("Confirm"))

    [listing] = await ba.say("/cuatoi")
    assert listing.text.startswith(vi("Your recent reports:"))
    [review] = await ba.press(vi("Correct {ref}", ref="BC-2026-0001"))
    assert review.parse_mode == "HTML" and "24/11/2026" in review.text
    [date_q] = await ba.press("✏️ 2")
    assert vi("Now: {value}", value="24/11/2026") in date_q.text
    _, review = await ba.press(vi("Today"))
    assert review.parse_mode == "HTML" and "25/11/2026" in review.text and "24/11/2026" not in review.text
    done, _ = await ba.press(vi("Confirm"))
    assert done.text == vi("Report {ref} has been corrected. The earlier version is kept.", ref="BC-2026-0001")

    old, new = await bot.rows(Report)
    assert old.ref == new.ref == "BC-2026-0001"
    assert old.superseded_at is not None and new.superseded_at is None and new.corrects_id == old.id
    assert (old.held_on, new.held_on) == (date(2026, 11, 24), date(2026, 11, 25))
    assert (new.village_id, new.attendees_total, new.attendees_female) == ("t03", 120, 70)
    photos = await bot.rows(Photo)
    assert sorted(p.report_id for p in photos) == [old.id, new.id]  # each version keeps its photo
    assert await ba.all_presses_answered()


# ---- 3. stale buttons -----------------------------------------------------------------------------


async def test_an_old_question_s_button_pressed_late_changes_nothing(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await enrol(bot, ba)
    [village_q] = await ba.say("/baocao")
    old_data = ba.data_of(village_q, "Thôn 3")
    await ba.press("Thôn 3")

    # The answered question lost its buttons: a client showing the new state cannot press it...
    with pytest.raises(AssertionError, match="no button"):
        await bot.emu.press(BA, village_q.message_id, old_data)
    # ...but a client that still shows the old keyboard (another device, an edit not yet shown) can.
    before = (await bot.draft_of(BA)).state
    refused, current = await ba.raw(ba.forged_press(village_q, old_data))
    assert refused.text == ALREADY
    assert current.text.startswith(step(2)) and vi("Yesterday") in current.button_texts
    after = (await bot.draft_of(BA)).state
    assert after.answers == before.answers == {"village": "t03"} and after.cursor == before.cursor

    # A typed answer leaves the old question's buttons in place: pressing one later is refused too.
    date_q = current
    await ba.say("hôm qua")
    _, format_q = await ba.press(vi("No"))  # 24/11 is in a campaign: its yes/no comes first
    before = (await bot.draft_of(BA)).state
    refused, current = await ba.press_on(date_q.message_id, ba.data_of(date_q, vi("Today")))
    assert refused.text == ALREADY and current.text.startswith(step(3))
    after = (await bot.draft_of(BA)).state
    assert after.answers == before.answers and after.answers["held_on"] == "2026-11-24"
    # The question shown before the refusal is stale now as well; the new one works.
    refused, _ = await ba.press_on(format_q.message_id, ba.data_of(format_q, vi("Village meeting / conference")))
    assert refused.text == ALREADY
    closed, topics_q = await ba.press(vi("Village meeting / conference"))
    assert closed.buttons == [] and topics_q.text.startswith(step(4))
    assert (await bot.draft_of(BA)).state.answers == {"village": "t03", "held_on": "2026-11-24", "in_gender_month": "no",
                                                      "format": "meeting"}
    assert await ba.all_presses_answered()


async def test_confirm_pressed_twice_saves_one_report(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await enrol(bot, ba)
    await report_until_review(ba)
    replies = await ba.press_twice(vi("Confirm"))
    saved = vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001")
    assert texts(replies).count(saved) == 1
    assert vi("That form has already ended.") in texts(replies)
    assert [r.ref for r in await bot.rows(Report)] == ["BC-2026-0001"]
    assert await ba.all_presses_answered()


# ---- 4. duplicates --------------------------------------------------------------------------------


async def test_the_same_update_delivered_twice_is_handled_once(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await enrol(bot, ba)
    await ba.say("/baocao")
    await ba.press("Thôn 3")
    replies = await ba.say_delivered_twice("hôm qua")
    # One answer (the next question: 24/11's campaign yes/no, on the date's step), not a refusal after it.
    assert len(replies) == 1 and replies[0].text.startswith(step(2))
    assert vi(CAMPAIGN_QUESTIONS["gender_month"]) in replies[0].text
    update_id = max(u["update_id"] for u in bot.emu.updates if (u.get("message") or {}).get("text") == "hôm qua")
    assert await bot.count(InboxEvent, InboxEvent.dedup_key == str(update_id)) == 1
    assert (await bot.draft_of(BA)).state.answers == {"village": "t03", "held_on": "2026-11-24"}


# ---- 5. webhook mode ------------------------------------------------------------------------------


async def test_webhook_mode_accepts_telegram_and_refuses_strangers(telegram_bot):
    bot = await telegram_bot(mode="webhook")
    emu = bot.emu
    [(_, hook)] = [(n, p) for n, p in emu.calls if n == "setWebhook"]
    assert hook["url"] == f"{PUBLIC_URL}/telegram/webhook" and hook["secret_token"] == WEBHOOK_SECRET
    assert json.loads(hook["allowed_updates"]) == ["message", "edited_message", "callback_query"]
    assert not [n for n, _ in emu.calls if n in ("getUpdates", "deleteWebhook")]
    # Telegram reaches the public URL; a reverse proxy forwards it to the bot's port.
    await emu.set_webhook_target(bot.webhook_url, secret=WEBHOOK_SECRET)

    ba = bot.user(BA, "Ba")
    await enrol(bot, ba)
    [village_q] = await ba.say("/baocao")
    assert village_q.text.startswith(step(1))
    closed, _ = await ba.press("Thôn 3")
    assert closed.buttons == []
    assert emu.webhook_attempts and {status for _, status in emu.webhook_attempts} == {200}
    assert await ba.all_presses_answered()

    # Someone who is not Telegram: a wrong secret, or none, is refused and nothing is stored.
    stored = await bot.count(InboxEvent)
    sent = len(ba.messages)
    update = {"update_id": 990001, "message": {
        "message_id": 999, "date": 1_790_000_000, "text": "hôm qua",
        "chat": {"id": BA, "type": "private", "first_name": "Ba"},
        "from": {"id": BA, "is_bot": False, "first_name": "Ba"}}}
    assert await emu.deliver_webhook(update, secret="wrong-secret", url=bot.webhook_url) == 403
    assert await emu.deliver_webhook(update, secret=None, url=bot.webhook_url) == 403
    assert await emu.deliver_webhook(update, secret=WEBHOOK_SECRET[:-1], url=bot.webhook_url) == 403
    await asyncio.sleep(0.3)
    assert await bot.count(InboxEvent) == stored and len(ba.messages) == sent

    # Telegram retrying a delivery it thinks failed: both get 200, the update is handled once.
    assert await emu.deliver_webhook(update, url=bot.webhook_url) == 200
    assert await emu.deliver_webhook(update, url=bot.webhook_url) == 200
    await bot.settle(990001)
    # The one reply is the next question: 24/11's campaign yes/no, on the date's step.
    assert texts(ba.messages[sent:]) == [ba.messages[-1].text] and ba.messages[-1].text.startswith(step(2))
    assert vi(CAMPAIGN_QUESTIONS["gender_month"]) in ba.messages[-1].text
    assert await bot.count(InboxEvent) == stored + 1


# ---- 6. Telegram failing, long messages -------------------------------------------------------------


async def test_replies_survive_429_and_5xx(telegram_bot):
    bot = await telegram_bot()
    emu = bot.emu
    ba = bot.user(BA, "Ba")
    code = await bot.invite(name="Hoàng Văn Ba")
    await ba.say(f"/start {code}")

    # 429 on the first of two replies: both still arrive, in order, after retry_after.
    emu.fail_next("sendMessage", 429, retry_after=1)
    started = asyncio.get_running_loop().time()
    replies = await ba.share_contact("0912345678")
    assert asyncio.get_running_loop().time() - started >= 0.9
    assert texts(replies)[0] == vi("Thank you, your phone number has been saved.")
    who = vi("{roles} — {where}", roles=vi("Village head"), where="Thôn 3")
    assert texts(replies)[1] == vi("Hello {name}! You are registered as: {who}.", name="Hoàng Văn Ba", who=who)
    retried = [r for r in await bot.rows(OutboxMessage) if r.attempts > 1]
    assert [(r.attempts, r.last_error) for r in retried] == [(2, "RetryAfter")]

    # A 5xx from sendMessage, then one from editMessageText: retried with back-off, nothing lost.
    await ba.say("/baocao")
    emu.fail_next("sendMessage", 500)
    emu.fail_next("editMessageText", 502)
    closed, date_q = await ba.press("Thôn 3")
    assert closed.text.endswith("→ Thôn 3") and date_q.text.startswith(step(2))
    assert await bot.outbox_failures() == []
    assert sum(1 for r in await bot.rows(OutboxMessage) if r.attempts == 2) == 3
    assert await ba.all_presses_answered()


async def test_polling_outlives_a_403_from_getupdates(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say("xin chào")
    # A blocking ISP or a misconfigured proxy answering one long poll with 403 (Telegram is blocked
    # in Vietnam at times): once it is over, the bot must hear its users again.
    polls = sum(1 for name, _ in bot.emu.calls if name == "getUpdates")
    bot.emu.fail_next("getUpdates", 403, description="Forbidden")
    await eventually(lambda: sum(1 for name, _ in bot.emu.calls if name == "getUpdates") > polls, SETTLE_TIMEOUT,
                     "the next long poll (answered 403)")
    update_id = await bot.emu.send_text(BA, "xin chào")
    await bot.settle(update_id)  # the bot waits 1 s after an error, then polls again



async def test_an_update_in_a_shape_the_bot_cannot_read_is_skipped_and_the_next_is_answered(telegram_bot):
    """Updates are read from Telegram's JSON (bot/channels/telegram.py _to_incoming): one missing a
    field the Bot API always sends must not stop the poll, or every later update would wait."""
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say("xin chào")
    stored = await bot.count(InboxEvent)
    # A message without its chat, a button press whose user has no id, and one without its own id.
    await bot.emu.send_raw_update({"message": {"message_id": 5, "date": 1_790_000_000, "text": "x",
                                               "from": {"id": BA, "is_bot": False, "first_name": "Ba"}}})
    await bot.emu.send_raw_update({"callback_query": {"id": "77", "data": "x", "chat_instance": "1",
                                                      "from": {"first_name": "Ba"},
                                                      "message": {"message_id": 1, "date": 0,
                                                                  "chat": {"id": BA, "type": "private"}}}})
    await bot.emu.send_raw_update({"callback_query": {"data": "x", "chat_instance": "1",
                                                      "from": {"id": BA, "is_bot": False, "first_name": "Ba"},
                                                      "message": {"message_id": 1, "date": 0,
                                                                  "chat": {"id": BA, "type": "private"}}}})
    replies = await ba.say("/trogiup")
    assert len(replies) == 1 and replies[0].text.startswith("Xin chào! Chatbot này dành cho trưởng thôn")
    assert await bot.count(InboxEvent) == stored + 1  # the three unreadable ones were not stored
    assert bot.emu.pending_updates == []  # and the poll moved past all of them


LONG_VI = "\n".join(
    f"{i}. Thôn {i % 22 + 1}: họp tuyên truyền Luật Bình đẳng giới, phòng chống bạo lực gia đình." for i in range(120)
)


async def test_a_long_message_is_split_within_telegram_s_limit(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say("xin chào")  # the chat exists once the person wrote to the bot
    assert len(LONG_VI) > 4096 * 2
    delivery = await bot.channel.send(str(BA), Reply(text=LONG_VI))
    assert delivery.ok and len(delivery.platform_ids) == 3
    parts = ba.messages[-3:]
    assert all(utf16_len(m.text) <= 4096 for m in parts)
    assert " ".join(m.text for m in parts).split() == LONG_VI.split()  # nothing lost, nothing added

    # The same through the outbox, in HTML: sent as plain text, split, delivered.
    async with bot.app.sessions() as s, s.begin():
        outbox_store.queue_to_chat(s, bot.app.services.keyring, channel="telegram", account=bot.channel.account,
                                   chat_id=str(BA), person_id=None, reply=Reply(text="<b>Tổng hợp</b>\n" + LONG_VI,
                                   html=True), now=bot.app.clock.now())
    bot.app.outbox.wake()
    await bot.settle()
    parts = ba.messages[-3:]
    assert parts[0].text.startswith("Tổng hợp\n0. Thôn 1") and all(utf16_len(m.text) <= 4096 for m in parts)
    assert await bot.outbox_failures() == []


async def test_a_long_message_is_split_at_line_ends(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say("xin chào")
    delivery = await bot.channel.send(str(BA), Reply(text=LONG_VI))
    assert delivery.ok
    assert "\n".join(m.text for m in ba.messages[-3:]) == LONG_VI  # every part ends where a line ends


async def test_a_long_message_with_emoji_is_split_by_utf16_units(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say("xin chào")
    text = "Chúc mừng 🎉 " * 600  # 7200 characters, 7800 UTF-16 units
    delivery = await bot.channel.send(str(BA), Reply(text=text))
    assert delivery.ok, delivery.error
    assert all(utf16_len(m.text) <= 4096 for m in ba.messages[1:])


async def test_a_long_message_hitting_the_per_chat_limit_arrives_once(telegram_bot):
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await ba.say("xin chào")
    before = len(ba.messages)
    bot.emu.per_chat_limit = 1  # about one message a second in a chat, as Telegram asks
    bot.emu.reset_rate_limits()
    async with bot.app.sessions() as s, s.begin():
        outbox_store.queue_to_chat(s, bot.app.services.keyring, channel="telegram", account=bot.channel.account,
                                   chat_id=str(BA), person_id=None, reply=Reply(text=LONG_VI),
                                   now=bot.app.clock.now())
    bot.app.outbox.wake()
    parts = [p.strip() for p in split_text(LONG_VI, 4096)]
    assert len(parts) == 3
    await eventually(lambda: len(ba.messages) - before >= 3, SETTLE_TIMEOUT, "three messages")
    assert texts(ba.messages[before:])[:3] == parts  # each part once, in order


# ---- 7. kill -9 in the middle of a form, and logs without the token --------------------------------


async def test_a_report_survives_kill_9_in_the_middle_and_no_log_shows_the_token(emulator, tmp_path):
    emu = emulator
    bot = BotProcess(tmp_path, emu)  # python -m bot run, its own config.toml, SQLite file and key
    code = bot.invite("--role", "reporter", "--village", "t03", "--name", "Hoàng Văn Ba")
    assert re.fullmatch(r"[A-Z0-9-]{6,20}", code), code
    # The process runs on real time: "hôm qua" may or may not fall in a campaign of the plan.
    yesterday = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) - timedelta(days=1)).date()
    in_campaign = campaign_on(yesterday) is not None
    bot.start()
    ba = bot.user(BA, "Ba")
    try:
        await ba.say(f"/start {code}")
        await ba.say(vi("Skip"))
        await ba.say("/baocao")
        await ba.press("Thôn 3")  # question 1
        await ba.say("hôm qua")  # question 2
        if in_campaign:
            await ba.press(vi("No"))  # its campaign yes/no, on question 2's step
        _, topics_q = await ba.press(vi("Village meeting / conference"))  # question 3
        assert topics_q.text.startswith(step(4))

        bot.kill()  # SIGKILL between two answers: no shutdown, no flush
        assert await bot.wait_exit() == -signal.SIGKILL
        bot.start()

        # The question the first process sent still works in the second one, at the same step.
        [toggled] = await ba.press("▫️ " + vi("Law on Gender Equality"))
        assert toggled.message_id == topics_q.message_id and "✅ " + vi("Law on Gender Equality") in toggled.button_texts
        _, total_q = await ba.press(vi("Done"))
        assert total_q.text.startswith(step(5))

        # SIGKILL again, this time with an answer just sent: the new process gets it from Telegram.
        update_id = await emu.send_text(BA, "45")
        bot.kill()
        await bot.wait_exit()
        # Telegram trouble while the new process runs, so that its warnings reach the log too.
        emu.fail_next("getUpdates", 502)
        emu.fail_next("sendMessage", 500)
        emu.fail_next("answerCallbackQuery", 400, description="Bad Request: query is too old")
        bot.start()
        await bot.settle(update_id)
        assert ba.last.text.startswith(step(6))
        await ba.say("20")
        await ba.say("25")
        await ba.press(vi("No"))
        _, review = await ba.press(vi("Skip"))
        assert review.parse_mode == "HTML" and "45" in review.text
        thanks, _ = await ba.press(vi("Confirm"))
        year = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).year
        assert thanks.text == vi("Thank you! Your report has been saved with reference {ref}.", ref=f"BC-{year}-0001")
    finally:
        assert await bot.stop() == 0  # SIGTERM: a clean stop

    # Every question was asked once, in order: nothing lost, nothing repeated across the restarts.
    # (The campaign yes/no, when asked, shares question 2's step.)
    asked = [i for m in ba.messages for i in range(1, 10) if m.text.startswith(step(i))]
    assert asked == [1, 2, *([2] if in_campaign else []), *range(3, 10)]

    yesterday = yesterday.isoformat()
    assert bot.query("select ref, village_id, held_on, format, attendees_total, attendees_male, attendees_female "
                     "from reports") == [(f"BC-{year}-0001", "t03", yesterday, "meeting", 45, 20, 25)]
    assert bot.query("select topic from report_topics") == [("gender_equality",)]
    assert bot.query("select count(*) from drafts") == [(0,)]
    assert bot.query("select count(*) from inbox where error is not null") == [(0,)]

    logs = bot.log_text()
    assert logs.count("bot running: telegram (polling)") == 3  # the log was captured at all
    assert "telegram polling: NetworkError" in logs  # the warnings as well
    assert TOKEN not in logs and TOKEN_SECRET not in logs
    assert bot.env["BOT_SECRET_KEY"] not in logs


async def test_a_reply_in_flight_at_kill_9_does_not_freeze_the_chat(emulator, tmp_path):
    emu = emulator
    bot = BotProcess(tmp_path, emu)
    bot.invite("--role", "reporter", "--village", "t03")  # creates the database
    bot.start()
    lan = bot.user(2002, "Lan")
    try:
        await lan.say("xin chào")  # a stranger: the bot explains how to get an invite

        # Hold the next sendMessage inside "Telegram" (a slow network), and kill the bot meanwhile. The
        # emulator has no latency switch, so its method table is patched for this one call.
        name, send = emu._methods["sendmessage"]
        held, release = asyncio.Event(), asyncio.Event()

        async def slow_send(params):
            held.set()
            await release.wait()
            return await send(params)

        emu._methods["sendmessage"] = (name, slow_send)
        await emu.send_text(2002, "xin chào")
        await asyncio.wait_for(held.wait(), 60)
        bot.kill()
        await bot.wait_exit()
        emu._methods["sendmessage"] = (name, send)
        release.set()
        bot.start()

        # The person writes again a little later: the bot answers within seconds, not minutes
        # (the claim left by the killed process would have held the chat for two minutes).
        mark = emu.mark()
        update_id = await emu.send_text(2002, "xin chào")
        await bot.settle(update_id, timeout=60)  # a generous deadline, still half the two minutes
        assert len([m for m in lan.messages if m.seq > mark]) >= 1
    finally:
        await bot.stop()
