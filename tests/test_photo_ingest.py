"""Ingest never waits on the platform for a photo: the update is stored and confirmed first, the
download runs beside it (bot/media.py), and the photo's step begins once the download ended. The
person's later messages wait behind the photo; a restart in between fetches it again.

The emulators hold every download open (`files_held` / `media_held`) until the test lets go.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.events import Incoming
from storage.models import InboxEvent, Photo
from tests.helpers import vi
from tests.telegram_harness import (  # noqa: F401 - the *_fixture names register fixtures
    changed_since,
    emulator_fixture,
    enrol,
    eventually,
    jpeg,
    telegram_bot_fixture,
)
from tests.zalo_harness import enrol_on_oa, enrol_on_zalo, zalo_fixture  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

BA = 1001
RECEIVED = vi("Photo {n} received. Send another, or press Done.", n=1)
RECEIVED_PLAIN = vi("Photo {n} received. Send another, or type xong.", n=1)
REVIEW = vi("Review: {form}", form=vi("Outreach session report"))


async def until_photo_step(user) -> None:
    """An outreach report for Thôn 3 up to its photo question, typed and pressed as on Telegram."""
    await user.say("/baocao")
    await user.press("Thôn 3")
    await user.say("hôm qua")
    await user.press(vi("No"))
    await user.press(vi("Village meeting / conference"))
    await user.press("▫️ " + vi("Law on Gender Equality"))
    await user.press(vi("Done"))
    await user.say("120")
    await user.say("50")
    await user.say("70")
    await user.press(vi("No"))


async def stored_events(app) -> list[Incoming]:
    async with app.sessions() as s:
        rows = (await s.scalars(select(InboxEvent).where(InboxEvent.processed_at.is_(None))
                                .order_by(InboxEvent.id))).all()
    return [Incoming.from_json(app.services.keyring.decrypt(r.payload)) for r in rows]


async def at_photo_step_with_downloads_held(telegram_bot):
    """Ba enrolled on Telegram at the photo question; every file download held open from now."""
    bot = await telegram_bot()
    ba = bot.user(BA, "Ba")
    await enrol(bot, ba)
    await until_photo_step(ba)
    bot.emu.files_held = asyncio.Event()
    return bot, bot.emu.mark()


async def test_telegram_stores_a_photo_and_the_next_message_while_the_download_is_held(telegram_bot):
    bot, mark = await at_photo_step_with_downloads_held(telegram_bot)
    emu = bot.emu
    await emu.send_photo(BA, jpeg(2400, 1800))
    done_id = await emu.send_text(BA, "xong")
    # Both updates were stored and confirmed to Telegram (the next getUpdates moved the offset past
    # them) while the photo's download is still open; the photo is stored by its file_id.
    await eventually(lambda: not emu.pending_updates and emu.file_downloads == 1, what="both updates confirmed")
    pending = await stored_events(bot.app)
    assert [(e.kind, e.photo, e.photo_ref is not None) for e in pending] == [("photo", None, True),
                                                                              ("text", None, False)]
    await asyncio.sleep(0.3)
    assert changed_since(emu, BA, mark) == []  # "xong" waits behind the photo: nothing answered yet

    emu.files_held.set()
    await bot.settle(done_id)
    said = [m.text for m in changed_since(emu, BA, mark)]
    assert said[0] == RECEIVED
    assert any(t.startswith(REVIEW) for t in said[2:])  # "xong" answered after the photo's answer
    [photo] = await bot.rows(Photo)
    assert photo.person_id is not None and len(photo.data) < 400_000


async def test_a_photo_stored_before_a_restart_is_fetched_again_by_its_file_id(telegram_bot):
    bot, mark = await at_photo_step_with_downloads_held(telegram_bot)
    emu = bot.emu
    photo_id = await emu.send_photo(BA, jpeg(2400, 1800))
    await eventually(lambda: not emu.pending_updates and emu.file_downloads == 1, what="the photo confirmed")
    await bot.app.stop()  # the download is still open: the stop does not wait for it
    [left] = await stored_events(bot.app)
    assert left.kind == "photo" and left.photo_ref is not None

    emu.files_held.set()
    again = await telegram_bot()  # a new process on the same database: the event comes from there
    await again.settle(photo_id)
    assert [m.text for m in changed_since(emu, BA, mark)][0] == RECEIVED
    assert emu.file_downloads == 2 and len(await again.rows(Photo)) == 1


async def test_the_official_account_webhook_answers_before_the_photo_is_downloaded(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    ba = bot.oa_user("o1001", "Ba")
    await ba.follow()
    await enrol_on_oa(bot, ba)
    for typed in ("/baocao", "1", "hôm qua", "2", "1", "1 xong", "120", "50", "70", "2"):
        await ba.say(typed)

    oa.media_held = asyncio.Event()
    before = len(oa.messages("o1001"))
    # The webhook call returns (the emulator awaits its answer) while the download is held.
    await asyncio.wait_for(oa.send_image("o1001", jpeg(800, 600)), 5)
    await asyncio.wait_for(oa.send_text("o1001", "xong"), 5)
    await eventually(lambda: oa.media_downloads == 1, what="the download started")
    await asyncio.sleep(0.3)
    assert len(oa.messages("o1001")) == before

    oa.media_held.set()
    await bot.settle()
    said = [m.text for m in oa.messages("o1001")[before:]]
    assert said[0] == RECEIVED and any(t.startswith(REVIEW) for t in said[1:])
    assert len(await bot.rows(Photo)) == 1


async def test_the_zalo_bot_stores_the_photo_and_polls_on_while_the_download_is_held(zalo):
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu)
    ba = bot.zalo_user("z1001", "Ba")
    await enrol_on_zalo(bot, ba)
    for typed in ("/baocao", "1", "hôm qua", "2", "1", "1 xong", "120", "50", "70", "2"):
        await ba.say(typed)

    emu.media_held = asyncio.Event()
    before = len(emu.messages("z1001"))
    await emu.send_photo("z1001", jpeg(800, 600))
    await emu.send_text("z1001", "xong")

    async def both_stored():
        return [(e.kind, e.photo_ref is not None) for e in await stored_events(bot.app)] == [
            ("photo", True), ("text", False)]

    await eventually(both_stored, what="both updates stored")  # the long poll went on meanwhile
    await eventually(lambda: emu.media_downloads == 1, what="the download started")
    await asyncio.sleep(0.3)
    assert len(emu.messages("z1001")) == before

    emu.media_held.set()
    await bot.settle()
    said = [m.text for m in emu.messages("z1001")[before:]]
    assert said[0] == RECEIVED_PLAIN and any(t.startswith(REVIEW) for t in said[1:])
    assert len(await bot.rows(Photo)) == 1
