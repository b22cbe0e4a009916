"""End to end on a Zalo Official Account: the real bot (App + ZaloOAChannel) against the OA
emulator over HTTP on 127.0.0.1: signed webhooks, buttons whose clicks come back as text, the
OAuth token pair kept in the database and refreshed once, and the 7-day consultation window.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.events import Reply
from storage import outbox as outbox_store
from storage.models import HeldMessage, InboxEvent, OutboxMessage, Person, Report, ZaloOAToken
from tests.helpers import vi
from tests.telegram_harness import eventually, jpeg
from tests.zalo_harness import enrol_on_oa, enrol_on_zalo, zalo_fixture  # noqa: F401

FORM = vi("Outreach session report")


def step(i: int, n: int = 8) -> str:
    """The outreach form's question i: eight in its first part, then the photos, a part of their own."""
    if i == 9:
        return vi("{form} · Step {i}/{n}", form=FORM, i=1, n=1)
    return vi("{form} · Step {i}/{n}", form=FORM, i=i, n=n)


@pytest.mark.parametrize("body_style", ["compact", "spaced"])
async def test_a_village_head_follows_the_official_account_and_reports_with_buttons(zalo, body_style):
    oa = await zalo.oa_emulator(body_style=body_style)  # the signature must hold over the bytes as sent
    bot = await zalo.start(oa_emu=oa)
    ba = bot.oa_user("o1001", "Ba")

    [welcome] = await ba.follow()
    assert welcome.text == vi("Welcome! Please type the 8-character invite code you were given.")
    [ask_phone] = await ba.say(await bot.invite(name="Hoàng Văn Ba"))
    assert ask_phone.titles == [vi("Skip")]  # a real button; its click comes back as text
    greeting = (await ba.press(vi("Skip")))[-1]
    assert greeting.text.startswith(vi("Hello {name}! You are registered as: {who}.", name="Hoàng Văn Ba",
                                       who=vi("{roles} — {where}", roles=vi("Village head"), where="Thôn 3")))

    [village_q] = await ba.say("/baocao")
    assert village_q.text.startswith(step(1)) and village_q.titles == ["Thôn 3", vi("Whole commune / several villages"),
                                                                        vi("Cancel")]
    [date_q] = await ba.press("Thôn 3")
    assert date_q.text.startswith(step(2)) and vi("Yesterday") in date_q.titles
    # 24/11 is in the Action Month for Gender Equality: its yes/no, as buttons, on the date's step.
    [campaign_q] = await ba.press(vi("Yesterday"))
    assert campaign_q.text.startswith(step(2)) and campaign_q.titles[:2] == [vi("Yes"), vi("No")]
    [format_q] = await ba.press(vi("No"))
    # Ten options do not fit five buttons: a numbered list, the controls as words to type.
    assert format_q.text.startswith(step(3)) and "\n10. " + vi("Other") in format_q.text and format_q.buttons == []

    # A late click on an old question's button changes nothing.
    refused, again = await ba.press("Thôn 3")
    assert refused.text == vi("That question has already been answered. Here is where you are now:")
    assert again.text.startswith(step(3))
    [topics_q] = await ba.say("1")
    assert topics_q.text.startswith(step(4)) and topics_q.buttons == []  # several choices: "1 3" is typed
    await ba.say("1 2 xong")
    await ba.say("120")
    await ba.say("50")
    [more_q] = await ba.say("70")
    assert more_q.titles[:2] == [vi("Yes"), vi("No")]
    [photo_q] = await ba.press(vi("No"))
    assert photo_q.text.startswith(step(9))

    # A location is accepted as an event; the form says what it wants instead.
    refused, _ = await ba.location(21.594, 105.848)
    assert refused.text == vi("I can only read text here. Please type your answer.")
    got, _ = await ba.image(jpeg(800, 600))
    assert got.text == vi("Photo {n} received. Send another, or press Done.", n=1)
    [review] = await ba.press(vi("Done"))
    assert review.text.startswith(vi("Review: {form}", form=FORM)) and "<b>" not in review.text
    thanks, _ = await ba.say("xác nhận")
    assert thanks.text == vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001")
    [report] = await bot.rows(Report)
    assert (report.village_id, report.format, report.attendees_female) == ("t03", "meeting", 70)

    # An event delivered again (same msg_id) is processed once.
    count = len(ba.messages)
    assert await oa.deliver_again(oa.events_made[-1]) == 200
    await bot.settle()
    assert len(ba.messages) == count and len(await bot.rows(Report)) == 1
    assert oa.refused_sends == []  # every message met the platform's limits (text, 5 buttons, titles)


async def test_a_forged_or_unsigned_webhook_is_refused(zalo):
    oa = await zalo.oa_emulator(body_style="spaced")
    bot = await zalo.start(oa_emu=oa)
    oa.user("o7", "Bảy")
    event = oa._event("o7", "user_send_text", {"text": "xin chào"})
    raw = oa.encode(event)
    compact = oa.encode({**event}).replace(b"\n", b"").replace(b"  ", b"")
    forged = (
        oa.sign(raw, event["timestamp"], key="not-the-secret-key"),  # signed with another key
        oa.sign(raw, event["timestamp"], key=oa.app_secret),  # with the app secret instead of the OA key
        oa.sign(compact, event["timestamp"]),  # over re-serialised JSON, not the bytes sent
        oa.sign(raw, str(int(event["timestamp"]) + 1)),  # another timestamp
        "",  # none at all
    )
    for signature in forged:
        assert await oa.deliver(event, raw=raw, signature=signature) == 403
    assert await bot.rows(InboxEvent) == []
    assert await oa.deliver(event, raw=raw) == 200  # the real one
    await bot.settle("zalo_oa", event["message"]["msg_id"])
    assert len(await bot.rows(InboxEvent)) == 1


@pytest.mark.parametrize("expired_as,single_use", [("error", True), ("http", False)])
async def test_an_expired_token_is_refreshed_once_and_kept_encrypted(zalo, keyring, expired_as, single_use, caplog):
    caplog.set_level(logging.INFO)
    oa = await zalo.oa_emulator(expired_as=expired_as, single_use_refresh=single_use)
    bot = await zalo.start(oa_emu=oa)
    lan = bot.oa_user("o2002", "Lan")
    assert len(await lan.follow()) == 1 and oa.refreshes == 0

    oa.expire_access_tokens()  # -216 (or HTTP 401): refresh once, send again once
    assert len(await lan.say("xin chào")) == 1  # the answer went out after all
    assert oa.refreshes == 1 and oa.refused_sends == [-216]
    [row] = await bot.rows(ZaloOAToken)
    assert keyring.decrypt_text(row.access_token) not in oa.seed and row.refreshes == 1
    assert oa.seed[0].encode() not in row.access_token and row.expires_at is not None  # encrypted at rest

    # A restart with the same environment: the stored pair wins (the seed's refresh token is spent).
    await bot.app.stop()
    zalo.apps.remove(bot.app)
    bot = await zalo.start(oa_emu=oa)
    lan = bot.oa_user("o2002", "Lan")
    assert len(await lan.say("xin chào")) == 1
    assert oa.refreshes == 1 and oa.refused_refreshes == 0 and oa.refused_sends == [-216]

    # Shortly before it expires, the token is renewed without waiting for a refusal.
    async with bot.app.sessions() as s, s.begin():
        await s.execute(update(ZaloOAToken).values(expires_at=bot.app.clock.now() + timedelta(minutes=5)))
    bot.channel("zalo_oa").tokens._pair = None  # as a fresh process would read it
    assert len(await lan.say("xin chào")) == 1
    assert oa.refreshes == 2 and oa.refused_sends == [-216] and oa.refused_refreshes == 0
    for secret in (*oa.seed, oa.app_secret, oa.secret_key, keyring.decrypt_text(row.refresh_token)):
        assert secret not in caplog.text


@pytest.fixture
def storage_url(database, request, db_url):
    """Set up before the bots (so torn down after them): a PostgreSQL database outlives its users."""
    return request.getfixturevalue("pg_url") if database == "postgres" else db_url


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_two_processes_refreshing_the_token_at_once_use_one_refresh(storage_url, zalo):
    url = storage_url
    oa = await zalo.oa_emulator(refresh_delay=0.3)  # a slow OAuth server: both processes are waiting on it
    first = await zalo.start(oa_emu=oa, storage_url=url, http=False)
    second = await zalo.start(oa_emu=oa, storage_url=url, http=False)
    async with first.app.sessions() as s, s.begin():
        await s.execute(update(ZaloOAToken).values(expires_at=first.app.clock.now() - timedelta(minutes=1)))
    one, two = first.channel("zalo_oa").tokens, second.channel("zalo_oa").tokens
    one._pair = two._pair = None  # both read the stored pair: due for a refresh

    tokens = await asyncio.gather(one.current(), two.current(), one.current(), two.current())
    assert len(set(tokens)) == 1 and tokens[0] not in oa.seed
    assert oa.refreshes == 1 and oa.refused_refreshes == 0  # the single-use refresh token was used once


@pytest.mark.parametrize("closed_by", ["platform", "bot"])
async def test_a_push_outside_the_7_day_window_is_held_sent_elsewhere_and_delivered_when_the_person_writes(
        zalo, closed_by):
    bot_emu = await zalo.bot_emulator()
    oa = await zalo.oa_emulator(enforce_window=closed_by == "platform")
    bot = await zalo.start(bot_emu=bot_emu, oa_emu=oa)
    on_zalo, on_oa = bot.zalo_user("z3003", "Hoa"), bot.oa_user("o3003", "Hoa")
    await enrol_on_zalo(bot, on_zalo, name="Phạm Thị Hoa")
    [code_msg] = await on_zalo.say("/lienket")
    code = code_msg.split("/lienket ", 1)[1].split()[0]
    await on_oa.say(f"/lienket {code}")
    await on_oa.say("/trogiup")  # the official account is now the channel she last wrote from

    if closed_by == "platform":
        oa.advance(days=8)  # Zalo counts 8 days; the bot's own count does not know
    else:
        bot.app.clock.advance(days=8)  # the bot knows the window is closed and does not even try
    [person] = await bot.rows(Person)
    text = "Nhắc việc: hạn nộp báo cáo tháng là thứ Sáu."
    async with bot.app.sessions() as s, s.begin():
        assert await outbox_store.queue_to_person(s, bot.app.services.keyring, person.id, Reply(text=text),
                                                  now=bot.app.clock.now())
    bot.app.outbox.wake()
    await eventually(lambda: text in on_zalo.texts, what="the push on her other channel")
    assert text not in [m.text for m in on_oa.messages]
    [held] = await bot.rows(HeldMessage)
    assert held.channel == "zalo_oa" and held.released_at is None and text.encode() not in held.payload
    [failed] = await bot.rows(OutboxMessage, OutboxMessage.failed_at.is_not(None))
    assert failed.channel == "zalo_oa" and "7-day" in failed.last_error  # the sender's record says why
    assert (-230 in oa.refused_sends) == (closed_by == "platform")

    # She writes on the official account: the window opens and what was held goes out first.
    replies = await on_oa.say("xin chào")
    assert replies[0].text == text and len(replies) >= 2
    [held] = await bot.rows(HeldMessage)
    assert held.released_at is not None and held.payload is None


async def test_real_follow_events_welcome_and_an_unfollow_sends_pushes_elsewhere(zalo):
    """Zalo's follow and unfollow name the person as follower.id, with no sender (PLATFORMS.md)."""
    import io

    from bot.status import status_command
    from storage.models import Identity

    bot = await zalo.start(oa_emu=await zalo.oa_emulator())
    lan = bot.oa_user("o2002", "Lan")
    event = bot.oa_emu.events_made
    [welcome] = await lan.follow()
    assert "sender" not in event[-1] and event[-1]["follower"] == {"id": "o2002"}
    assert welcome.text == vi("Welcome! Please type the 8-character invite code you were given.")
    await enrol_on_oa(bot, lan, name="Lò Thị Lan")
    # An enrolled person who follows again is greeted with their menu, not asked for a code.
    again = await lan.follow()
    assert again[0].text.startswith(vi("Hello {name}! You are registered as: {who}.", name="Lò Thị Lan",
                                       who=vi("{roles} — {where}", roles=vi("Village head"), where="Thôn 3")))

    await lan.unfollow()
    [identity] = await bot.rows(Identity, Identity.external_id == "o2002")
    assert identity.unreachable_at is not None
    async with bot.app.sessions() as s, s.begin():  # a push now: nowhere to go (her only channel)
        assert await outbox_store.queue_to_person(s, bot.app.services.keyring, identity.person_id,
                                                  Reply(text="Nhắc báo cáo"), now=bot.app.clock.now()) is None
    out = io.StringIO()
    await status_command(bot.app.config, url=str(bot.app.engine.url), now=bot.app.clock.now(), out=out)
    assert "1 person(s) left the Zalo official account; 1 of them can be reached on no channel now" in out.getvalue()

    await lan.follow()  # back: reachable again
    [identity] = await bot.rows(Identity, Identity.external_id == "o2002")
    assert identity.unreachable_at is None
