"""End to end on the Zalo Bot API: the real bot (App + ZaloBotChannel, wired as `python -m bot run`
wires it) against the Zalo Bot emulator over HTTP on 127.0.0.1, in polling and webhook mode, with
every disputed behaviour of PLATFORMS.md switched both ways. Zalo has no buttons: people answer
numbered lists and type commands with or without the slash.
"""

from __future__ import annotations

import io
import json
import logging

import aiohttp
import pytest
from PIL import Image

from bot.channels.zalo_bot import ZaloBotChannel
from handlers.forms.outreach import CAMPAIGN_QUESTIONS
from storage.models import Alert, Case, InboxEvent, OutboxMessage, Person, Photo, Report
from tests.helpers import vi
from tests.telegram_harness import SETTLE_TIMEOUT, eventually, jpeg
from tests.zalo_harness import BOT_SECRET, BOT_TOKEN, PUBLIC_URL, enrol_on_oa, enrol_on_zalo, zalo_fixture  # noqa: F401

FORM = vi("Outreach session report")


def step(i: int, n: int = 8) -> str:
    """The outreach form's question i: eight in its first part, then the photos, a part of their own."""
    if i == 9:
        return vi("{form} · Step {i}/{n}", form=FORM, i=1, n=1)
    return vi("{form} · Step {i}/{n}", form=FORM, i=i, n=n)


@pytest.mark.parametrize("idle,photo_field", [("http", "photo_url"), ("body", "photo")])
async def test_a_village_head_enrols_on_zalo_and_reports_a_meeting(zalo, idle, photo_field):
    emu = await zalo.bot_emulator(idle=idle, photo_field=photo_field)
    bot = await zalo.start(bot_emu=emu)
    ba = bot.zalo_user("z1001", "Ba")
    # A long poll with nothing new: 408 means "idle", and polling goes on (the whole test needs it).
    await eventually(lambda: emu.idle_polls >= 1, SETTLE_TIMEOUT, "an idle long poll")

    # A stranger is told how to get in; the code is then typed as plain text (no deep links on Zalo).
    [hello] = await ba.say("xin chào")
    assert hello.startswith(vi("Hello! This bot is for village heads and officers of the commune who have been "
                               "invited. To use it, ask the culture-society office (Phòng Văn hóa - Xã hội) or the "
                               "administrator for an invite code, then send: /start CODE")[:40])
    code = await bot.invite(name="Hoàng Văn Ba")
    [ask_phone] = await ba.say(code.lower())
    assert ask_phone.endswith("» " + vi("skip"))  # no share-phone button here: the word to type instead
    greeting = (await ba.say("bo qua"))[-1]
    assert "\n1. " + vi("Report an outreach session") in greeting  # the menu numbered: "1" opens it

    # The command without its slash; options answered by number, by text without tone marks, or "1, 2".
    [village_q] = await ba.say("baocao")
    assert village_q.startswith(step(1)) and "\n1. Thôn 3\n" in village_q
    assert (await ba.say("thon 3"))[-1].startswith(step(2))
    # 24/11 is in the Action Month for Gender Equality: its yes/no, numbered, on the date's step.
    [campaign_q] = await ba.say("hom qua")
    assert campaign_q.startswith(step(2)) and vi(CAMPAIGN_QUESTIONS["gender_month"]) in campaign_q
    assert "\n2. " + vi("No") in campaign_q
    [format_q] = await ba.say("2")
    assert format_q.startswith(step(3)) and "\n10. " + vi("Other") in format_q
    assert (await ba.say("1"))[-1].startswith(step(4))
    # Several choices on a plan where every message counts: one line, the list only on request.
    assert await ba.say("1, 2") == [vi("Chosen: {numbers}. Type other numbers to choose or unchoose, “xem” to see "
                                       "the list, or xong.", numbers="1, 2")]
    toggled = (await ba.say("xem"))[-1]
    assert toggled.startswith(step(4)) and "\n1. [x] " in toggled and "\n3. [ ] " in toggled and "\n0. " in toggled
    assert (await ba.say("xong"))[-1].startswith(step(5))
    for answer, nxt in (("120", 6), ("50", 7), ("70", 8), ("không", 9)):
        assert (await ba.say(answer))[-1].startswith(step(nxt))

    # Something the bot cannot read, in the middle of the form: it says so and asks again.
    refused, again = await ba.voice()
    assert refused == vi("I can only read text here. Please type your answer.") and again.startswith(step(9))
    assert (await ba.sticker())[0] == refused

    # The photo is downloaded at once from the URL in the update (photo_url or photo).
    got, _ = await ba.photo(jpeg(2000, 1500))
    assert got == vi("Photo {n} received. Send another, or type xong.", n=1)  # no Done button to press here
    [review] = await ba.say("xong")
    assert review.startswith(vi("Review: {form}", form=FORM)) and "<b>" not in review
    assert "24/11/2026" in review and "» " + vi("confirm") in review
    thanks, _menu = await ba.say("xác nhận")
    assert thanks == vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001")

    [report] = await bot.rows(Report)
    assert (report.village_id, report.format, report.attendees_total, report.attendees_male) == ("t03", "meeting",
                                                                                                 120, 50)
    [photo] = await bot.rows(Photo)
    assert photo.report_id == report.id and max(Image.open(io.BytesIO(photo.data)).size) <= 1600

    # The same update seen twice (Zalo's at-most-once is not exactly-once): handled once.
    before = len(ba.texts)
    await emu.deliver_again(emu.updates_made[-1]["message"]["message_id"])
    await bot.settle()
    assert len(ba.texts) == before and len(await bot.rows(Report)) == 1

    assert all(len(m.text) <= 2000 for m in emu.sent)
    assert await bot.rows(OutboxMessage, OutboxMessage.failed_at.is_not(None)) == []


@pytest.mark.parametrize("body", ["flat", "wrapped"])
async def test_webhook_mode_checks_the_secret_and_takes_flat_or_wrapped_bodies(zalo, body):
    emu = await zalo.bot_emulator(webhook_body=body)
    bot = await zalo.start(bot_emu=emu, bot_mode="webhook")
    assert emu.webhook == {"url": f"{PUBLIC_URL}/zalo/bot/xuanduong/webhook", "secret_token": BOT_SECRET}
    channel = bot.channel("zalo_bot")
    with pytest.raises(RuntimeError):
        await channel.poll_once()  # configured for webhooks: it refuses to poll
    assert emu.calls.get("getUpdates", 0) == 0

    lan = bot.zalo_user("z2002", "Lan")
    update = {"event_name": "message.text.received", "message": {
        "from": {"id": "z2002", "display_name": "Lan", "is_bot": False}, "chat": {"id": "z2002", "chat_type": "PRIVATE"},
        "text": "xin chào", "message_id": "forged-1", "date": 1764036000000}}
    assert await emu.post_webhook(update, secret="wrong-secret-123") == 403
    assert await emu.post_webhook(update, secret="") == 403
    assert await emu.post_webhook(update, secret=BOT_SECRET, body=b"{not json") == 400
    assert await bot.rows(InboxEvent) == []

    [explained] = await lan.unsupported()  # a file or a link: no content, but never silence
    assert explained.startswith(vi("Hello! This bot is for village heads and officers of the commune who have been "
                                   "invited. To use it, ask the culture-society office (Phòng Văn hóa - Xã hội) or "
                                   "the administrator for an invite code, then send: /start CODE")[:40])
    assert emu.last_webhook_status == 200
    await enrol_on_zalo(bot, lan, name="Lê Thị Lan")
    thanks, menu = await lan.sticker()
    assert thanks == vi("Thank you. I can only act on the menu below.") and "1. " + vi("Report an outreach session") in menu
    [help_] = await lan.say("/trogiup")
    assert help_.startswith(vi("As {role}, what you do most:", role=vi("reporter")))
    assert "→ /baocao" in help_ and vi("Every command you may use:") in help_

    # Zalo sending the same message again: one inbox row, one answer.
    before = len(lan.texts)
    await emu.deliver_again(emu.updates_made[-1]["message"]["message_id"])
    await bot.settle()
    assert len(lan.texts) == before
    assert len(await bot.rows(InboxEvent)) == len(emu.updates_made)  # the refused ones were never stored


async def test_an_urgent_case_on_zalo_alerts_the_police_on_the_official_account_at_once(zalo):
    emu, oa = await zalo.bot_emulator(), await zalo.oa_emulator()
    bot = await zalo.start(bot_emu=emu, oa_emu=oa)
    police, leader, ba = bot.oa_user("o-police", "Công an"), bot.zalo_user("z-leader", "Chủ tịch"), bot.zalo_user(
        "z1001", "Ba")
    await enrol_on_oa(bot, police, name="Trần Văn Công", roles=("police",), villages=())
    await enrol_on_zalo(bot, leader, name="Phạm Thị Hoa", roles=("leader",), villages=())
    await enrol_on_zalo(bot, ba)

    danger_q = (await ba.say("/baotin"))[-1]
    assert vi("Is anyone's life or health in immediate danger right now?") in danger_q
    replies = await ba.say("1")  # "Có": the case exists and the police is alerted before the next question
    assert replies[0].startswith(vi("URGENT case {ref} has been created. The commune police and leaders are being "
                                    "alerted now.", ref="HS-2026-0001"))
    assert "113" in replies[0]
    urgent = vi("🔴 URGENT — case {ref}", ref="HS-2026-0001")
    assert any(m.text.startswith(urgent) for m in police.messages)
    assert any(t.startswith(urgent) for t in leader.texts)
    [case] = await bot.rows(Case)
    assert case.urgent and {a.recipient_id for a in await bot.rows(Alert)} == {
        p.id for p in await bot.rows(Person) if p.name in ("Trần Văn Công", "Phạm Thị Hoa")}


async def test_quota_exhaustion_alerts_the_admin_elsewhere_and_ok_false_is_a_failure(zalo, caplog):
    caplog.set_level(logging.INFO)
    emu, oa = await zalo.bot_emulator(), await zalo.oa_emulator()
    bot = await zalo.start(bot_emu=emu, oa_emu=oa)
    admin, ba = bot.oa_user("o-admin", "Quản"), bot.zalo_user("z1001", "Ba")
    await enrol_on_oa(bot, admin, name="Nguyễn Văn Quản", roles=("admin",), villages=())
    await enrol_on_zalo(bot, ba)

    # A 200 whose body says ok:false is a failure: the reply is sent again, and arrives once.
    emu.fail_next("sendMessage", 200, 500, "Internal error")
    tries = emu.calls["sendMessage"]
    [menu] = await ba.say("/start")
    assert vi("Report an outreach session") in menu and emu.calls["sendMessage"] == tries + 2

    # The monthly quota runs out: one refused call, no retries, the admin told on the official account.
    emu.quota = len(emu.sent)
    tries = emu.calls["sendMessage"]
    assert await ba.say("/trogiup") == []
    await eventually(lambda: any("429" in m.text for m in admin.messages), what="the admin to be told")
    await bot.settle()
    assert emu.calls["sendMessage"] == tries + 1 and emu.refused_429 == 1
    [failed] = await bot.rows(OutboxMessage, OutboxMessage.failed_at.is_not(None))
    assert failed.channel == "zalo_bot" and "quota" in failed.last_error
    assert admin.messages[-1].text == vi(
        "⚠️ Zalo Bot: Zalo refused to send a message (429): this month's message quota is used up. People on Zalo "
        "Bot are reached on their other channels where they have one. Raise the quota in the Zalo Bot dashboard, "
        "or wait for the next month.")
    # More refusals within hours do not alert again.
    await ba.say("/trogiup")
    assert sum("429" in m.text for m in admin.messages) == 1

    logs = caplog.text
    assert "quota" in logs
    for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], BOT_SECRET, oa.seed[0], oa.seed[1], oa.app_secret,
                   oa.secret_key):
        assert secret not in logs


async def test_no_error_from_the_zalo_client_carries_the_token(zalo, caplog):
    """aiohttp names the URL in its errors, and Zalo's URL holds the token."""
    caplog.set_level(logging.INFO)
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu)
    channel: ZaloBotChannel = bot.channel("zalo_bot")
    real = channel.config
    for broken in ("http://127.0.0.1:99999/bot", "http://127.0.0.1:1/bot"):  # an invalid port; nobody listening
        channel.config = type(real)(api_url=broken, mode=real.mode, poll_timeout=real.poll_timeout)
        with pytest.raises(ConnectionError) as raised:
            await channel.call("getMe")
        assert BOT_TOKEN not in str(raised.value) and raised.value.__cause__ is None
        assert raised.value.__suppress_context__
    channel.config = real
    result = await channel.send("nobody", _reply("xin chào"))
    assert not result.ok and result.permanent and "chat not found" in result.error
    assert BOT_TOKEN.split(":")[1] not in caplog.text


def _reply(text):
    from core.events import Reply

    return Reply(text=text)


async def test_a_long_text_is_split_at_2000_without_breaking_a_letter_or_an_emoji(zalo):
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu)
    channel = bot.channel("zalo_bot")
    emu.user("z9", "Chín")
    import unicodedata

    letter = unicodedata.normalize("NFD", "ệ")  # e + dot below + circumflex: three code points
    emoji = "👍🏽"  # thumbs up with a skin tone: two code points, four UTF-16 units
    for before, tail in ((1999, letter), (1998, emoji), (1999, emoji)):  # the limit falls inside the tail
        text = "a" * before + tail + " " + "lời chào " * 300
        emu.sent.clear()
        assert (await channel.send("z9", _reply(text))).ok
        parts = [m.text for m in emu.sent]
        assert len(parts) >= 2 and all(len(p.encode("utf-16-le")) // 2 <= 2000 for p in parts)
        assert parts[0] == "a" * before and parts[1].startswith(tail)  # the letter or emoji moved whole
        assert "".join(parts).replace(" ", "") == text.replace(" ", "")

    # A part refused with ok:false on HTTP 200: the next attempt sends only the parts not yet delivered.
    emu.sent.clear()
    emu.fail_next("sendMessage", 200, 500, "Internal error", after=1)
    first = await channel.send("z9", _reply(text))
    assert not first.ok and not first.permanent and len(first.platform_ids) == 1
    assert (await channel.send("z9", _reply(text), len(first.platform_ids))).ok
    assert "".join(m.text for m in emu.sent).replace(" ", "") == text.replace(" ", "")
    # Lines are kept whole where they can be.
    emu.sent.clear()
    lines = "\n".join(f"Dòng {i}: thôn, ngày, hình thức, số người tham dự" for i in range(120))
    assert (await channel.send("z9", _reply(lines))).ok
    assert all(m.text.split("\n")[-1].startswith("Dòng") for m in emu.sent) and len(emu.sent) >= 3


async def test_the_webhook_route_is_not_there_in_polling_mode(zalo):
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu)
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{bot.app.http.bound_port}/zalo/bot/xuanduong/webhook"
        async with http.post(url, data=json.dumps({}), headers={"X-Bot-Api-Secret-Token": BOT_SECRET}) as resp:
            assert resp.status in (404, 405)
