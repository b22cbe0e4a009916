"""Whose outbox claims are whose, on PostgreSQL with replicas: a replica renews the leases of what it
holds, takes its own back at once when it restarts under its name (BOT_REPLICA), and frees them at
a clean stop; a replica that died unnamed holds its rows only for the lease (bot/outbox.py). And
replicas wake each other (LISTEN/NOTIFY, bot/wakeups.py): a row one queues for a chat only the
other serves goes out at once, not at the other's next scan."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.app import App
from core.events import Delivery, Incoming, Reply
from storage import outbox as outbox_store
from storage.models import OutboxMessage
from tests.fakechannel import FakeChannel, Message

ALERT = "🔴 KHẨN CẤP — HS-2026-0007: cần hỗ trợ ngay"


class StallingChannel(FakeChannel):
    """Takes every message, but answers only when released (a network that hangs)."""

    def __init__(self, chats: dict | None = None, *, stall: bool = True) -> None:
        super().__init__()
        if chats is not None:
            self.chats = chats  # the platform outlives the bot's process
        self.release = asyncio.Event()
        if not stall:
            self.release.set()
        self.open = 0

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        msg = Message(next(self._ids), reply)
        self.chats.setdefault(chat_id, []).append(msg)
        self.open += 1
        await self.release.wait()
        return Delivery(ok=True, platform_ids=[str(msg.id)])


async def _replica(config, clock, keyring, url, name: str | None, channel: FakeChannel | None,
                   scan: float = 0.05) -> App:
    app = App(config, clock=clock, keyring=keyring, storage_url=url, replica=name)
    app.fake = channel
    if channel is not None:
        app.add_channel(channel)
    app.scheduler.jobs = []
    app.outbox.SCAN_SECONDS = scan  # scan often: a row nobody may take is not taken by waiting
    await app.start(http=False)
    return app


def _kill(app: App) -> None:
    """kill -9: nothing more of this process runs."""
    for task in [*app._tasks, *app.outbox._sending.values()]:
        task.cancel()


async def _queue_alert(app: App, keyring, clock) -> None:
    """Queued by a step of this replica: claimed by it as it is written, and handed to its outbox."""
    async with app.sessions() as s:
        app.outbox.claim_queued(s)
        async with s.begin():
            outbox_store.queue_to_chat(s, keyring, channel="fake", account="test", chat_id="police",
                                       person_id=None, reply=Reply(text=ALERT), now=clock.now(), kind="alert")
        rows = outbox_store.take_queued(s)
    app.outbox.wake(rows)


async def _queue_alert_by_job(app: App, keyring, clock) -> None:
    """Queued by a scheduled job: claimed by whichever replica's outbox takes it first."""
    async with app.sessions() as s, s.begin():
        outbox_store.queue_to_chat(s, keyring, channel="fake", account="test", chat_id="police", person_id=None,
                                   reply=Reply(text=ALERT), now=clock.now(), kind="alert")


async def _until(predicate, seconds: float = 4.0) -> bool:
    for _ in range(int(seconds / 0.01)):
        done = predicate()
        if done if isinstance(done, bool) else await done:
            return True
        await asyncio.sleep(0.01)
    return False


async def _claim(app: App) -> tuple[str | None, bool]:
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.chat_id == "police"))
        return row.claimed_by, row.delivered_at is not None


async def test_a_replica_restarted_under_its_name_takes_its_alert_back_at_once(config, clock, keyring, pg_url):
    first = await _replica(config, clock, keyring, pg_url, "bot-a", StallingChannel())
    other = await _replica(config, clock, keyring, pg_url, "bot-b", StallingChannel(stall=False))
    try:
        await _queue_alert(first, keyring, clock)
        assert await _until(lambda: first.fake.open == 1)  # on its way when the process dies
        _kill(first)
        await asyncio.sleep(0.3)  # the other replica scans six times: the lease is not its to break
        assert other.fake.chats.get("police") is None
        assert await _claim(other) == ("bot-a", False)

        # the same replica, restarted (systemd): its own claim is taken back at once, the clock not moved
        again = await _replica(config, clock, keyring, pg_url, "bot-a", StallingChannel(first.fake.chats,
                                                                                         stall=False))
        try:
            assert await _until(lambda: _delivered(again))
            assert [m.reply.text for m in again.fake.chats["police"]] == [ALERT, ALERT]  # open at the crash: twice
            assert other.fake.chats.get("police") is None
        finally:
            await again.stop()
    finally:
        await other.stop()
        await first.engine.dispose()


async def test_a_dead_unnamed_replicas_alert_is_taken_over_when_its_lease_ends(config, clock, keyring, pg_url):
    first = await _replica(config, clock, keyring, pg_url, None, StallingChannel())
    other = await _replica(config, clock, keyring, pg_url, None, StallingChannel(stall=False))
    try:
        await _queue_alert(first, keyring, clock)
        assert await _until(lambda: first.fake.open == 1)
        _kill(first)
        clock.advance(seconds=14)
        await asyncio.sleep(0.2)
        assert other.fake.chats.get("police") is None  # within the 15 s lease: still the dead one's
        clock.advance(seconds=2)  # 16 s after the claim, where it used to be 120 s
        assert await _until(lambda: _delivered(other))
        assert [m.reply.text for m in other.fake.chats["police"]] == [ALERT]
    finally:
        await other.stop()
        await first.engine.dispose()


async def test_a_live_replica_keeps_what_it_holds_past_the_lease(config, clock, keyring, pg_url):
    first = await _replica(config, clock, keyring, pg_url, "bot-a", StallingChannel())
    other = await _replica(config, clock, keyring, pg_url, "bot-b", StallingChannel(stall=False))
    first.outbox.RENEW_SECONDS = 0.05
    try:
        await _queue_alert(first, keyring, clock)
        assert await _until(lambda: first.fake.open == 1)
        for _ in range(4):  # a minute of a hanging request, in steps shorter than the lease
            clock.advance(seconds=outbox_store.LEASE_SECONDS - 1)
            await asyncio.sleep(0.2)  # renewed meanwhile; the other replica scans and must not take it
        assert other.fake.chats.get("police") is None
        async with first.sessions() as s:
            row = await s.scalar(select(OutboxMessage).where(OutboxMessage.chat_id == "police"))
        assert row.claimed_by == "bot-a" and row.claimed_until > clock.now()
        first.fake.release.set()
        assert await _until(lambda: _delivered(first))
        assert [m.reply.text for m in first.fake.chats["police"]] == [ALERT]
        assert await _claim(first) == (None, True)
    finally:
        first.fake.release.set()
        await first.stop()
        await other.stop()


async def test_a_clean_stop_frees_what_the_replica_held_at_once(config, clock, keyring, pg_url):
    class Refusing(FakeChannel):
        async def send(self, chat_id, reply, done=0):
            return Delivery(ok=False, error="timed out", retry_after=5)  # waits for its next attempt here

    first = await _replica(config, clock, keyring, pg_url, "bot-a", Refusing())
    other = await _replica(config, clock, keyring, pg_url, "bot-b", StallingChannel(stall=False))
    try:
        await _queue_alert(first, keyring, clock)
        assert await _until(lambda: _attempted(first))
        await first.stop()  # a rolling restart: the row is free for the other at once
        assert await _claim(other) == (None, False)
        clock.advance(seconds=6)  # its retry is due; the lease it had would have held for 15 s
        assert await _until(lambda: _delivered(other))
        assert [m.reply.text for m in other.fake.chats["police"]] == [ALERT]
    finally:
        await other.stop()


async def _delivered(app: App) -> bool:
    return (await _claim(app))[1]


async def _attempted(app: App) -> bool:
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.chat_id == "police"))
        return row.attempts == 1


async def test_a_row_one_replica_queues_for_the_others_chat_goes_out_at_once(config, clock, keyring, pg_url):
    """The replica behind the webhooks serves no channel itself (the Telegram poller runs on the
    other): what it queues, in a step or in a job, is sent by the other without waiting for a scan."""
    sender = await _replica(config, clock, keyring, pg_url, "bot-b", StallingChannel(stall=False), scan=60.0)
    webhooks = await _replica(config, clock, keyring, pg_url, "bot-a", None, scan=60.0)
    try:
        assert sender.wakeups.listening
        await webhooks.inbox.put(Incoming(channel="fake", account="test", user_id="u9", chat_id="u9",
                                          dedup_key="w1", text="xin chào", message_id="m1"))
        assert await _until(lambda: bool(sender.fake.chats.get("u9")), seconds=1.5)  # a step's answer
        await _queue_alert_by_job(webhooks, keyring, clock)
        assert await _until(lambda: bool(sender.fake.chats.get("police")), seconds=1.5)
        assert [m.reply.text for m in sender.fake.chats["police"]] == [ALERT]
        assert await _until(lambda: _delivered(sender))
    finally:
        await webhooks.stop()
        await sender.stop()
