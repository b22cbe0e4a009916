"""What a crash may send twice: only the messages whose request was open when the process died.

The outbox records each result within its record window (bot/outbox.py RECORD_LIMIT), so by the
time the other sends are answered they are recorded; a process killed then repeats only the three
that the platform was still holding."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.app import App
from core.events import Delivery, Reply
from storage import outbox as outbox_store
from storage.models import OutboxMessage
from tests.fakechannel import FakeChannel, Message

HELD = {"c03", "c07", "c11"}


class HoldingChannel(FakeChannel):
    """The platform takes every message at once, but answers three chats only when released (a
    slow network): their requests are open when the process dies."""

    def __init__(self, chats: dict | None = None) -> None:
        super().__init__()
        if chats is not None:
            self.chats = chats  # the platform's state outlives the bot's process
        self.release = asyncio.Event()
        self.open = 0

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        msg = Message(next(self._ids), reply)
        self.chats.setdefault(chat_id, []).append(msg)  # the platform has it from here on
        if chat_id in HELD:
            self.open += 1
            await self.release.wait()
        return Delivery(ok=True, platform_ids=[str(msg.id)])


async def _recorded(app) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.delivered_at.is_not(None))) or 0)


async def test_a_crash_repeats_only_the_sends_that_were_open(config, clock, keyring, db_url, app):
    await app.engine.dispose()  # the fixture's database, for a process of our own
    first = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    first.fake = HoldingChannel()
    first.add_channel(first.fake)
    first.scheduler.jobs = []  # killed below between two statements, never inside one (see App.stop)
    first.outbox.SCAN_SECONDS = first.router.SCAN_SECONDS = 60.0
    await first.start(http=False)
    chats = [f"c{n:02d}" for n in range(20)]
    async with first.sessions() as s, s.begin():  # a broadcast queued by a job: 20 chats, one each
        for chat in chats:
            outbox_store.queue_to_chat(s, keyring, channel="fake", account="test", chat_id=chat, person_id=None,
                                       reply=Reply(text=f"Bản tin tuần gửi {chat}"), now=clock.now(), kind="digest")
    first.outbox.wake()
    for _ in range(400):  # until every send but the three held ones is recorded
        await asyncio.sleep(0.01)
        if first.fake.open == 3 and await _recorded(first) == 17:
            break
    assert first.fake.open == 3 and await _recorded(first) == 17
    while first.outbox._recorder is not None and not first.outbox._recorder.done():
        await asyncio.sleep(0.01)

    # kill -9: nothing more of this process runs (no grace, no last record)
    for task in [*first._tasks, *first.outbox._sending.values()]:
        task.cancel()
    await asyncio.sleep(0.05)

    second = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    second.fake = HoldingChannel(chats=first.fake.chats)
    second.fake.release.set()
    second.add_channel(second.fake)
    await second.start(http=False)
    try:
        for _ in range(400):
            await asyncio.sleep(0.01)
            if await _recorded(second) == 20:
                break
        assert await _recorded(second) == 20
        got = {chat: len(second.fake.chats.get(chat, [])) for chat in chats}
        assert {c: n for c, n in got.items() if c in HELD} == {c: 2 for c in HELD}  # open at the crash: at most twice
        assert {c: n for c, n in got.items() if c not in HELD} == {c: 1 for c in chats if c not in HELD}
    finally:
        await second.stop()
        await first.engine.dispose()


class SlowChannel(FakeChannel):
    """Every send of a broadcast hangs until released (a platform that has slowed to a crawl)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.open = 0

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        if chat_id.startswith("b"):
            self.open += 1
            await self.release.wait()
        return await super().send(chat_id, reply, done)


async def test_an_alert_goes_out_while_every_sending_slot_is_taken_by_a_broadcast(config, clock, keyring, db_url,
                                                                                   app):
    await app.engine.dispose()
    bot = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    bot.fake = SlowChannel()
    bot.add_channel(bot.fake)
    await bot.start(http=False)
    try:
        async with bot.sessions() as s, s.begin():
            for n in range(100):
                outbox_store.queue_to_chat(s, keyring, channel="fake", account="test", chat_id=f"b{n}", person_id=None,
                                           reply=Reply(text="BẢN TIN TỔNG HỢP TUẦN"), now=clock.now(), kind="digest")
        bot.outbox.wake()
        for _ in range(300):
            await asyncio.sleep(0.01)
            if bot.fake.open >= bot.outbox.MAX_IN_FLIGHT:
                break
        assert bot.fake.open == bot.outbox.MAX_IN_FLIGHT  # every slot held by the broadcast, none free
        async with bot.sessions() as s, s.begin():
            outbox_store.queue_to_chat(s, keyring, channel="fake", account="test", chat_id="police", person_id=None,
                                       reply=Reply(text="🔴 KHẨN CẤP — HS-2026-0001"), now=clock.now(), kind="alert")
        bot.outbox.wake()
        for _ in range(300):
            await asyncio.sleep(0.01)
            if bot.fake.chats.get("police"):
                break
        assert [m.reply.text for m in bot.fake.chats.get("police", [])] == ["🔴 KHẨN CẤP — HS-2026-0001"]
    finally:
        bot.fake.release.set()
        await bot.stop()
