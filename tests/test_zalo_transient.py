"""Zalo reaches everyone it must: 403 (Zalo's "internal server error") is retried three times within
a minute, then given up as any permanent failure is; an empty Zalo Bot webhook body is answered
200; the OA signature is taken with or without its "mac=" prefix; group messages are ignored.

The real bot against the emulators over HTTP. The back-off is the outbox's due_at on the bot's
clock, which the tests move forward: no test waits for a retry in real time.
"""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.channels.zalo_bot import TRANSIENT_RETRIES, TransientRetries
from bot.channels.zalo_oa import signature, signature_matches
from core.events import Reply
from storage import outbox as outbox_store
from storage.models import Identity, InboxEvent, OutboxMessage
from tests.helpers import vi
from tests.telegram_harness import eventually
from tests.zalo_harness import BOT_SECRET, enrol_on_oa, enrol_on_zalo, zalo_fixture  # noqa: F401

UNDELIVERABLE = ("A message to {name} could not be delivered on any of their channels ({reason}). It is kept in "
                 "the outbox; please contact them another way.")


# ---- the counter, on its own ------------------------------------------------------------------

def test_three_retries_after_5_15_and_30_seconds_then_given_up():
    retries = TransientRetries()
    assert TRANSIENT_RETRIES == (5.0, 15.0, 30.0) and sum(TRANSIENT_RETRIES) < 60
    assert [retries.failed("c1", "hello") for _ in range(4)] == [5.0, 15.0, 30.0, None]
    assert retries.failed("c1", "hello") == 5.0  # given up: a later message starts afresh
    assert retries.failed("c1", {"text": "other"}) == 5.0 and retries.failed("c2", "hello") == 5.0  # each apart
    retries.done("c1", "hello")  # delivered (or failed otherwise): the count starts again
    assert retries.failed("c1", "hello") == 5.0


# ---- helpers ------------------------------------------------------------------------------------

async def _push(bot, external_id: str, text: str) -> int:
    async with bot.app.sessions() as s, s.begin():
        identity = await s.scalar(select(Identity).where(Identity.external_id == external_id))
        assert await outbox_store.queue_to_person(s, bot.app.services.keyring, identity.person_id, Reply(text=text),
                                                  now=bot.app.clock.now())
    async with bot.app.sessions() as s:
        row_id = await s.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == "push")
                                .order_by(OutboxMessage.id.desc()))
    bot.app.outbox.wake()
    return row_id


async def _after_attempt(bot, row_id: int, n: int) -> OutboxMessage:
    async def recorded():
        bot.app.outbox.wake()  # a wake-up between two of its passes is not lost: ask again until seen
        async with bot.app.sessions() as s:
            row = await s.get(OutboxMessage, row_id)
            return row if row.attempts >= n else None  # recorded with its next due time (or its end)

    return await eventually(recorded, what=f"attempt {n} of outbox message {row_id} to be recorded")


async def _retry_schedule(bot, row_id: int, failures: int) -> tuple[OutboxMessage, list[float], datetime]:
    """Let `failures` attempts fail, moving the bot's clock to each retry; the delays the outbox set."""
    first = bot.app.clock.now()
    delays = []
    for n in range(1, failures + 1):
        row = await _after_attempt(bot, row_id, n)
        if row.failed_at is not None or row.delivered_at is not None:
            break
        wait = (row.due_at - bot.app.clock.now()).total_seconds()
        delays.append(math.ceil(wait - 0.001))  # read a moment after the attempt set it
        bot.app.clock.advance(seconds=wait + 0.01)
        bot.app.outbox.wake()
    row = await _after_attempt(bot, row_id, len(delays) + 1)
    return row, delays, first


# ---- 403 on the official account ---------------------------------------------------------------

async def test_an_oa_message_answered_403_twice_arrives_once_on_the_third_try(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    ba = bot.oa_user("o5001", "Ba")
    await enrol_on_oa(bot, ba)
    text = "Nhắc việc: nộp báo cáo tháng trước thứ Sáu."
    attempts = oa.send_attempts

    oa.internal_errors_403(2, as_="http")  # HTTP 403 (the next test has error 403 in a 200 body)
    row_id = await _push(bot, "o5001", text)
    row, delays, first = await _retry_schedule(bot, row_id, 3)

    assert delays == [5, 15] and row.delivered_at is not None and row.failed_at is None and row.attempts == 3
    assert (row.delivered_at - first).total_seconds() < 60
    assert [m.text for m in ba.messages].count(text) == 1 and oa.send_attempts == attempts + 3
    assert oa.refused_sends == [403, 403]


async def test_an_oa_message_answered_403_four_times_is_given_up_within_a_minute_and_the_admin_told(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    admin, ba = bot.oa_user("o-admin", "Quản"), bot.oa_user("o5002", "Ba")
    await enrol_on_oa(bot, admin, name="Nguyễn Văn Quản", roles=("admin",), villages=())
    await enrol_on_oa(bot, ba)
    text = "Nhắc việc: họp thôn tối nay."
    attempts = oa.send_attempts

    oa.internal_errors_403(4, as_="body")  # {"error": 403} on HTTP 200
    row_id = await _push(bot, "o5002", text)
    row, delays, first = await _retry_schedule(bot, row_id, 4)

    assert delays == [5, 15, 30] and row.delivered_at is None and row.attempts == 4  # three retries, no more
    assert row.failed_at is not None and (row.failed_at - first).total_seconds() < 60
    assert "403" in row.last_error and "given up after 3 retries" in row.last_error
    # As for any push nobody can take today: her only channel failed for good, so the admins are told.
    await eventually(lambda: any(m.text.startswith(vi(UNDELIVERABLE, name="Hoàng Văn Ba", reason="zalo_oa 403")[:30])
                                 for m in admin.messages), what="the admin to be told")
    assert admin.messages[-1].text == vi(UNDELIVERABLE, name="Hoàng Văn Ba", reason="zalo_oa 403")
    assert text not in [m.text for m in ba.messages] and oa.refused_sends == [403] * 4
    await bot.settle()
    assert oa.send_attempts == attempts + 5  # four to her, one to the admin


async def test_other_oa_errors_are_handled_as_before(zalo):
    """-213 (the person left the OA) is still permanent at once; nothing is retried for it."""
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    ba = bot.oa_user("o5003", "Ba")
    await enrol_on_oa(bot, ba)
    oa.unfollowed.add("o5003")
    row = await _after_attempt(bot, await _push(bot, "o5003", "x"), 1)
    assert row.failed_at is not None and row.attempts == 1 and "-213" in row.last_error


# ---- 403 on the Zalo Bot ---------------------------------------------------------------------

@pytest.mark.parametrize("as_,failures", [("http", 2), ("body", 4)])
async def test_a_zalo_bot_message_answered_403_is_retried_three_times_within_a_minute(zalo, as_, failures):
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu, bot_mode="webhook")
    lan = bot.zalo_user("z5004", "Lan")
    await enrol_on_zalo(bot, lan, name="Lê Thị Lan")
    text = "Nhắc việc: nộp ảnh buổi truyền thông."
    tries = emu.calls["sendMessage"]

    emu.internal_errors_403(failures, as_=as_)  # HTTP 403, or error_code 403 with ok:false on HTTP 200
    row_id = await _push(bot, "z5004", text)
    row, delays, first = await _retry_schedule(bot, row_id, 4)

    if failures == 2:
        assert delays == [5, 15] and row.delivered_at is not None and lan.texts.count(text) == 1
        assert (row.delivered_at - first).total_seconds() < 60
    else:
        assert delays == [5, 15, 30] and row.failed_at is not None and text not in lan.texts
        assert (row.failed_at - first).total_seconds() < 60 and "given up after 3 retries" in row.last_error
    assert emu.calls["sendMessage"] == tries + min(failures + 1, 4)


# ---- the Zalo Bot webhook: an empty body, a group chat -------------------------------------------

async def test_an_empty_zalo_bot_webhook_body_is_answered_200_and_a_group_message_ignored(zalo):
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu, bot_mode="webhook")
    # No body at all, with the right secret (Zalo checking the URL): 200, nothing stored or sent.
    assert await emu.post_empty() == 200
    assert await emu.post_empty(secret="wrong-secret-123") == 403  # the secret is checked first, as before
    assert await emu.post_empty(secret="") == 403
    assert await emu.post_webhook({}, secret=BOT_SECRET, body=b"  \n") == 200  # whitespace only: empty too
    assert await bot.rows(InboxEvent) == [] and emu.sent == []

    # chat_type GROUP ("coming soon" in the docs): not stored, not answered, in the group or privately.
    lan = bot.zalo_user("z5005", "Lan")
    await emu.send_group_text("z5005", "g-thon3", "/baocao")
    assert emu.last_webhook_status == 200
    await bot.settle()
    assert await bot.rows(InboxEvent) == [] and emu.sent == []
    assert len(await lan.say("xin chào")) == 1  # the same person in a private chat is answered


# ---- the official account's webhook: the signature, a group event --------------------------------

async def test_the_oa_signature_is_taken_with_or_without_mac_and_a_wrong_one_refused(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    oa.user("o5006", "Sáu")
    for n, style in enumerate(("mac", "bare"), 1):
        oa.signature_style = style  # "mac=" + hex as documented, or the hex alone
        event = oa._event("o5006", "user_send_text", {"text": "xin chào"})
        raw = oa.encode(event)
        wrong = oa.sign(raw, event["timestamp"], key="not-the-secret-key")
        assert wrong.startswith("mac=") == (style == "mac")
        for forged in (wrong, oa.sign(raw, str(int(event["timestamp"]) + 1)), "mac=", "mac=" + "0" * 64, "0" * 64):
            assert await oa.deliver(event, raw=raw, signature=forged) == 403
        assert len(await bot.rows(InboxEvent)) == n - 1
        assert await oa.deliver(event, raw=raw) == 200
        await bot.settle("zalo_oa", event["message"]["msg_id"])
        assert len(await bot.rows(InboxEvent)) == n and len(oa.messages("o5006")) == n


SIGNED = signature("42", b'{"event_name":"user_send_text"}', "1764000000000", "k")


@pytest.mark.parametrize(("given", "accepted"), [
    (SIGNED, True), (SIGNED.removeprefix("mac="), True), ("MAC=" + SIGNED[4:].upper(), True), (f"  {SIGNED} ", True),
    (SIGNED[:-1] + ("0" if SIGNED[-1] != "0" else "1"), False), ("mac=", False), ("", False), ("mac=mac=" + SIGNED[4:], False),
])
def test_oa_signatures_in(given, accepted):
    assert signature_matches(given, SIGNED) is accepted


async def test_an_oa_group_event_is_answered_200_and_ignored(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    ba = bot.oa_user("o5007", "Ba")
    await enrol_on_oa(bot, ba)
    before, rows = len(ba.messages), len(await bot.rows(InboxEvent))
    await oa.send_group_text("o5007", "g-4321", "/baocao")
    assert oa.last_status == 200
    await bot.settle()
    assert len(await bot.rows(InboxEvent)) == rows and len(ba.messages) == before
    assert oa.messages("g-4321") == []  # nothing sent to the group either
