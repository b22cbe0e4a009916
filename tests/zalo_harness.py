"""Shared pieces for end-to-end tests on Zalo: the two emulators, the real bot (App with the real
Zalo channels, wired by bot.zalo.add_channels from an environment, as `python -m bot run` does)
and people acting on either channel. After each action a person waits until the bot has stored
and handled it and delivered everything it queued; the action returns what the bot sent meanwhile.

    async def test_something(zalo):
        bot = await zalo.start(bot_emu=await zalo.bot_emulator(), oa_emu=await zalo.oa_emulator())
        ba = bot.zalo_user("z1001", "Ba")
        replies = await ba.say("xin chào")
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import zalo
from bot.app import App
from storage.models import ExportRequest, InboxEvent, OutboxMessage
from tests.emulators.zalo_bot import ZaloBotEmulator
from tests.emulators.zalo_oa import OAMessage, ZaloOAEmulator
from tests.helpers import make_invite
from tests.telegram_harness import SETTLE_TIMEOUT, RunningClock, eventually

# Shaped like a real token ("<bot id>:<secret>"), so that a leak is recognisable.
BOT_TOKEN = "3141592653:zaloBotSecretPart_ABCdef0123456789xyz"
BOT_SECRET = "zalo-hook-secret_5d4c3b2a"
PUBLIC_URL = "https://bot.example.test"
COMMUNE = "xuanduong"


class ShiftClock(RunningClock):
    """RunningClock that a test can move forward by days (the 7-day window)."""

    shift = timedelta()

    def now(self):
        return super().now() + self.shift

    def advance(self, **delta) -> None:
        self.shift += timedelta(**delta)


@dataclass
class ZaloBot:
    app: App
    bot_emu: ZaloBotEmulator | None
    oa_emu: ZaloOAEmulator | None
    env: dict

    def channel(self, name: str):
        return next(c for c in self.app.channels if c.name == name)

    def zalo_user(self, user_id: str, name: str) -> ZbUser:
        return ZbUser(self, user_id, name)

    def oa_user(self, user_id: str, name: str) -> OaUser:
        return OaUser(self, user_id, name)

    async def invite(self, **kw) -> str:
        return await make_invite(self.app, **kw)

    async def rows(self, model, *where):
        async with self.app.sessions() as s:
            return (await s.scalars(select(model).where(*where).order_by(*model.__table__.primary_key))).all()

    async def settled(self, channel: str | None, key: str | None) -> bool:
        names = list(self.app.outbox.channels)
        async with self.app.sessions() as s:
            if key is not None:
                row = await s.scalar(select(InboxEvent).where(InboxEvent.channel == channel,
                                                              InboxEvent.dedup_key == key))
                if row is None or row.processed_at is None:
                    return False
            pending_in = await s.scalar(select(func.count()).select_from(InboxEvent).where(
                InboxEvent.processed_at.is_(None)))
            pending_out = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None),
                OutboxMessage.channel.in_([n.split(":")[0] for n in names])))
            pending_exports = await s.scalar(select(func.count()).select_from(ExportRequest).where(
                ExportRequest.done_at.is_(None)))  # /xuat's files, built apart
        return pending_in == 0 and pending_out == 0 and pending_exports == 0

    async def settle(self, channel: str | None = None, key: str | None = None,
                     timeout: float = SETTLE_TIMEOUT) -> None:
        await eventually(lambda: self.settled(channel, key), timeout, f"the bot to handle {channel} {key}")


class ZbUser:
    """A person writing to the Zalo bot. Each action returns the texts the bot sent them meanwhile."""

    def __init__(self, bot: ZaloBot, user_id: str, name: str) -> None:
        self.bot, self.id, self.emu = bot, user_id, bot.bot_emu
        self.emu.user(user_id, name)

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.emu.messages(self.id)]

    async def _act(self, action) -> list[str]:
        mark = self.emu.mark()
        key = await action
        await self.bot.settle("zalo_bot", key)
        return [m.text for m in self.emu.messages(self.id) if m.seq > mark]

    async def say(self, text: str) -> list[str]:
        return await self._act(self.emu.send_text(self.id, text))

    async def photo(self, data: bytes, caption: str | None = None) -> list[str]:
        return await self._act(self.emu.send_photo(self.id, data, caption))

    async def sticker(self) -> list[str]:
        return await self._act(self.emu.send_sticker(self.id))

    async def voice(self) -> list[str]:
        return await self._act(self.emu.send_voice(self.id))

    async def unsupported(self) -> list[str]:
        return await self._act(self.emu.send_unsupported(self.id))


class OaUser:
    """A follower of the official account. Each action returns the OA messages sent meanwhile."""

    def __init__(self, bot: ZaloBot, user_id: str, name: str) -> None:
        self.bot, self.id, self.emu = bot, user_id, bot.oa_emu
        self.emu.user(user_id, name)

    @property
    def messages(self) -> list[OAMessage]:
        return self.emu.messages(self.id)

    async def _act(self, action) -> list[OAMessage]:
        mark = self.emu.mark()
        event = await action
        assert self.emu.last_status == 200, self.emu.last_status
        message = event.get("message") or {}
        key = message.get("msg_id") or f"{event['event_name']}:{self.id}:{event['timestamp']}"
        await self.bot.settle("zalo_oa", key)
        return [m for m in self.emu.messages(self.id) if m.seq > mark]

    async def follow(self) -> list[OAMessage]:
        return await self._act(self.emu.follow(self.id))

    async def unfollow(self) -> None:
        """No event reaches the inbox: the webhook marks the identity before it answers 200."""
        await self.emu.unfollow(self.id)
        assert self.emu.last_status == 200, self.emu.last_status

    async def say(self, text: str) -> list[OAMessage]:
        return await self._act(self.emu.send_text(self.id, text))

    async def press(self, title: str) -> list[OAMessage]:
        return await self._act(self.emu.press(self.id, title))

    async def image(self, data: bytes) -> list[OAMessage]:
        return await self._act(self.emu.send_image(self.id, data))

    async def location(self, latitude: float, longitude: float) -> list[OAMessage]:
        return await self._act(self.emu.send_location(self.id, latitude, longitude))


class ZaloLab:
    """Emulators and bots for one test; everything is stopped at the end."""

    def __init__(self, config, keyring, db_url: str) -> None:
        self.config, self.keyring, self.db_url = config, keyring, db_url
        self.emulators: list = []
        self.apps: list[App] = []

    async def bot_emulator(self, **switches) -> ZaloBotEmulator:
        emu = ZaloBotEmulator(token=BOT_TOKEN, **switches)
        await emu.start()
        self.emulators.append(emu)
        return emu

    async def oa_emulator(self, **switches) -> ZaloOAEmulator:
        emu = ZaloOAEmulator(**switches)
        await emu.start()
        emu.seed = emu.issue_pair()
        self.emulators.append(emu)
        return emu

    def env_for(self, bot_emu: ZaloBotEmulator | None, oa_emu: ZaloOAEmulator | None) -> dict:
        env = {}
        if bot_emu is not None:
            env.update(ZALO_BOT_TOKEN=BOT_TOKEN, ZALO_BOT_WEBHOOK_SECRET=BOT_SECRET)
        if oa_emu is not None:
            env.update(ZALO_OA_APP_ID=oa_emu.app_id, ZALO_OA_APP_SECRET=oa_emu.app_secret,
                       ZALO_OA_SECRET_KEY=oa_emu.secret_key, ZALO_OA_ACCESS_TOKEN=oa_emu.seed[0],
                       ZALO_OA_REFRESH_TOKEN=oa_emu.seed[1])
        return env

    async def start(self, *, bot_emu: ZaloBotEmulator | None = None, oa_emu: ZaloOAEmulator | None = None,
                    bot_mode: str = "polling", clock=None, storage_url: str | None = None,
                    channels=(), http: bool = True) -> ZaloBot:
        cfg = replace(
            self.config,
            zalo_bot=replace(self.config.zalo_bot, api_url=bot_emu.api_url if bot_emu else "", mode=bot_mode,
                             poll_timeout=1),
            zalo_oa=replace(self.config.zalo_oa, api_url=oa_emu.api_url if oa_emu else "",
                            oauth_url=oa_emu.oauth_url if oa_emu else ""),
            http=replace(self.config.http, host="127.0.0.1", port=0, public_url=PUBLIC_URL),
        )
        app = App(cfg, clock=clock or ShiftClock(), keyring=self.keyring, storage_url=storage_url or self.db_url)
        for channel in channels:
            app.add_channel(channel)
        env = self.env_for(bot_emu, oa_emu)
        zalo.add_channels(app, env)
        await app.start(http=http)
        self.apps.append(app)
        local = f"http://127.0.0.1:{app.http.bound_port}" if http else ""
        if bot_emu is not None:
            bot_emu.resolve = lambda url: url.replace(PUBLIC_URL, local)
        if oa_emu is not None:
            oa_emu.webhook_url = f"{local}/zalo/oa/{COMMUNE}/webhook"
        return ZaloBot(app, bot_emu, oa_emu, env)

    async def close(self) -> None:
        for app in self.apps:
            await app.stop()
        for emu in self.emulators:
            await emu.stop()


@pytest.fixture(name="zalo")
async def zalo_fixture(config, keyring, db_url):
    lab = ZaloLab(config, keyring, db_url)
    try:
        yield lab
    finally:
        await lab.close()
    for emu in lab.emulators:
        assert not emu.internal_errors, emu.internal_errors[0]


async def enrol_on_zalo(bot: ZaloBot, user: ZbUser, *, name: str = "Hoàng Văn Ba", **invite) -> None:
    """The invite code typed as text (Zalo has no deep links), then the phone number skipped."""
    code = await bot.invite(name=name, **invite)
    await user.say(code)
    await user.say("bỏ qua")


async def enrol_on_oa(bot: ZaloBot, user: OaUser, *, name: str = "Hoàng Văn Ba", **invite) -> None:
    code = await bot.invite(name=name, **invite)
    await user.say(code)
    await user.say("bỏ qua")
