"""Shared pieces for end-to-end tests on Telegram: the emulator, the bot under test, and a user.

The bot is the real thing — `App` with the real `TelegramChannel` (python-telegram-bot over
HTTP) — pointed at `tests.emulators.telegram.TelegramEmulator` on 127.0.0.1. A `TgUser` acts
through the emulator like a person in the Telegram app and, after each action, waits until the
bot has stored and handled the update and delivered everything it queued; the action returns
the bot messages that appeared or changed meanwhile.

    from tests.telegram_harness import emulator_fixture, telegram_bot_fixture  # noqa: F401 - fixtures

    async def test_something(telegram_bot):
        bot = await telegram_bot()
        lan = bot.user(1001, "Lan")
        code = await bot.invite(name="Hoàng Văn Ba")
        replies = await lan.say(f"/start {code}")
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from PIL import Image
from sqlalchemy import func, or_, select

from bot.app import App
from bot.channels.telegram import TelegramChannel
from core.clock import Clock, FakeClock
from storage.drafts import load_draft
from storage.models import ExportRequest, Identity, InboxEvent, OutboxMessage
from tests.conftest import START
from tests.emulators.telegram import SentMessage, TelegramEmulator
from tests.helpers import make_invite, vi

# Shaped like a real token (numeric bot id, 35-character secret) so that a leak is recognisable.
TOKEN = "7350018244:AAHq3vZt9Wk-emuSecretPart_0123456789x"
TOKEN_SECRET = TOKEN.split(":", 1)[1]
WEBHOOK_SECRET = "hook-secret_7f3a9c2e"
PUBLIC_URL = "https://bot.example.test"
# Seconds an action may take until the bot is quiet again (retries included). Only a deadline: the
# wait ends as soon as the bot is quiet, so a generous one costs nothing, and a busy machine (two
# test workers beside other work on two cores) can stretch a step past several seconds.
SETTLE_TIMEOUT = 30.0


class RunningClock(Clock):
    """Starts at START (10:00 on Wed 25/11/2026 in Xuân Dương) and then runs with real time.

    Dates in the conversation stay fixed ("hôm qua" is 24/11/2026), while the outbox can still
    see retry_after and back-off delays pass.
    """

    def __init__(self, start: datetime = START) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


class SteppingClock(FakeClock):
    """A FakeClock that also runs with real time: a test moves it on by minutes with advance(),
    while the outbox still sees retry_after and back-off delays (real seconds) pass.
    """

    def __init__(self, start: datetime = START) -> None:
        super().__init__(start)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=time.monotonic() - self._t0)

    def set(self, when: datetime) -> None:
        super().set(when)
        self._t0 = time.monotonic()


def jpeg(width: int = 1200, height: int = 900, color=(30, 120, 200)) -> bytes:
    """A real JPEG photo made with Pillow."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=85)
    return out.getvalue()


def changed_since(emu: TelegramEmulator, chat_id: int, mark: int) -> list[SentMessage]:
    """Bot messages of the chat sent or edited after `mark`, in the order they changed."""
    return sorted((m for m in emu.messages(chat_id) if m.seq > mark), key=lambda m: m.seq)


def command_names(emu: TelegramEmulator, scope: str) -> list[str]:
    raw = emu.commands[scope]["commands"]
    return [c["command"] for c in (json.loads(raw) if isinstance(raw, str) else raw)]


async def eventually(check, timeout: float = SETTLE_TIMEOUT, what: str = "condition"):
    """Await `check()` (sync or async) until it returns something truthy; short polls only."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class TelegramBot:
    """The app with its Telegram channel, running against the emulator."""

    app: App
    channel: TelegramChannel
    emu: TelegramEmulator

    @property
    def port(self) -> int:
        assert self.app.http is not None
        return self.app.http.bound_port

    @property
    def webhook_url(self) -> str:
        """Where a reverse proxy in front of the bot would forward PUBLIC_URL/telegram/webhook."""
        return f"http://127.0.0.1:{self.port}/telegram/webhook"

    def user(self, user_id: int, first_name: str, **kw) -> TgUser:
        self.emu.user(user_id, first_name, **kw)
        return TgUser(self, user_id, first_name)

    async def invite(self, **kw) -> str:
        return await make_invite(self.app, **kw)

    async def count(self, model, *where) -> int:
        async with self.app.sessions() as s:
            return await s.scalar(select(func.count()).select_from(model).where(*where))

    async def rows(self, model, *where, order=None):
        async with self.app.sessions() as s:
            stmt = select(model).where(*where).order_by(order if order is not None else model.id)
            return (await s.scalars(stmt)).all()

    async def settled(self, update_id: int | None = None) -> bool:
        """True once the update (if given) is handled and nothing is left to process or send."""
        async with self.app.sessions() as s:
            if update_id is not None:
                row = await s.scalar(
                    select(InboxEvent).where(
                        InboxEvent.channel == "telegram", InboxEvent.dedup_key == str(update_id)
                    )
                )
                if row is None or row.processed_at is None:
                    return False
            pending_in = await s.scalar(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.processed_at.is_(None))
            )
            pending_out = await s.scalar(
                select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None)
                )
            )
            pending_exports = await s.scalar(select(func.count()).select_from(ExportRequest).where(
                ExportRequest.done_at.is_(None)))  # /xuat's files, built apart
        return pending_in == 0 and pending_out == 0 and pending_exports == 0

    async def settle(self, update_id: int | None = None, timeout: float = SETTLE_TIMEOUT) -> None:
        await eventually(lambda: self.settled(update_id), timeout, f"the bot to handle update {update_id}")

    async def draft_of(self, user_id: int):
        async with self.app.sessions() as s:
            identity = await s.scalar(select(Identity).where(Identity.external_id == str(user_id)))
            return await load_draft(s, self.app.services.keyring, identity.person_id) if identity else None

    async def outbox_failures(self) -> list[OutboxMessage]:
        return await self.rows(OutboxMessage, or_(OutboxMessage.failed_at.is_not(None)))


class TgUser:
    """A person in a private chat with the bot. Each action returns the bot messages it caused."""

    def __init__(self, bot: TelegramBot, user_id: int, first_name: str = "") -> None:
        self.bot = bot
        self.first_name = first_name or f"User{user_id}"
        self.emu = bot.emu
        self.id = user_id
        self.queries: list[str] = []  # callback query ids of every button pressed

    # ---- what the user sees
    @property
    def messages(self) -> list[SentMessage]:
        return self.emu.messages(self.id)

    @property
    def last(self) -> SentMessage:
        return self.emu.last(self.id)

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]

    def message_with(self, label: str) -> SentMessage:
        """The newest message showing an inline button with exactly that label."""
        for m in reversed(self.messages):
            if label in m.button_texts:
                return m
        raise AssertionError(f"no button {label!r}\n{self.emu.dump(self.id)}")

    @staticmethod
    def data_of(message: SentMessage, label: str) -> str:
        for row in message.buttons:
            for text, data in row:
                if text == label:
                    return data
        raise AssertionError(f"message #{message.message_id} has no button {label!r}: {message.buttons}")

    # ---- what the user does
    async def _act(self, action) -> list[SentMessage]:
        mark = self.emu.mark()
        update_id = await action()
        await self.bot.settle(update_id)
        return changed_since(self.emu, self.id, mark)

    async def say(self, text: str) -> list[SentMessage]:
        return await self._act(lambda: self.emu.send_text(self.id, text))

    async def press(self, label: str) -> list[SentMessage]:
        """Press the inline button with that label on the newest message that shows it."""
        message = self.message_with(label)
        return await self.press_on(message.message_id, self.data_of(message, label))

    async def press_on(self, message_id: int, data: str) -> list[SentMessage]:
        async def action():
            query_id = await self.emu.press(self.id, message_id, data)
            self.queries.append(query_id)
            return self._update_of_query(query_id)

        return await self._act(action)

    async def share_contact(self, phone: str) -> list[SentMessage]:
        return await self._act(lambda: self.emu.send_contact(self.id, phone))

    async def send_photo(self, data: bytes, caption: str | None = None) -> list[SentMessage]:
        return await self._act(lambda: self.emu.send_photo(self.id, data, caption))

    async def raw(self, update: dict) -> list[SentMessage]:
        return await self._act(lambda: self.emu.send_raw_update(update))

    async def press_twice(self, label: str) -> list[SentMessage]:
        """A double tap: both presses reach Telegram before the bot has handled the first."""
        message = self.message_with(label)
        data = self.data_of(message, label)

        async def action():
            first = await self.emu.press(self.id, message.message_id, data)
            second = await self.emu.press(self.id, message.message_id, data)
            self.queries += [first, second]
            return self._update_of_query(second)

        return await self._act(action)

    async def say_delivered_twice(self, text: str) -> list[SentMessage]:
        """Telegram delivers the same update (same update_id) twice, as after a lost confirmation."""

        async def action():
            update_id = await self.emu.send_text(self.id, text)
            again = copy.deepcopy(next(u for u in self.emu.updates if u["update_id"] == update_id))
            await self.emu.send_raw_update(again)
            return update_id

        return await self._act(action)

    def forged_press(self, message: SentMessage, data: str, query_id: str = "4242424242424242") -> dict:
        """A callback_query update for a button the message no longer shows (an old client view)."""
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name,
                "language_code": "vi"}
        return {
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": {
                    "message_id": message.message_id, "from": dict(self.emu.bot_user),
                    "chat": {"id": self.id, "type": "private", "first_name": user["first_name"]},
                    "date": message.date, "text": message.history[0] if message.history else message.text,
                },
                "chat_instance": "-4242",
                "data": data,
            }
        }

    def _update_of_query(self, query_id: str) -> int:
        for update in reversed(self.emu.updates):
            if (update.get("callback_query") or {}).get("id") == query_id:
                return update["update_id"]
        raise AssertionError(f"no update for callback query {query_id}")

    async def all_presses_answered(self) -> bool:
        await eventually(lambda: set(self.queries) <= set(self.emu.answered_callbacks), SETTLE_TIMEOUT,
                         "callback answers")
        return True


@pytest.fixture(name="emulator")
async def emulator_fixture():
    emu = TelegramEmulator(token=TOKEN, bot_username="xuanduong_bot")
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    assert not emu.internal_errors, emu.internal_errors[0]


@pytest.fixture(name="telegram_bot")
async def telegram_bot_fixture(config, keyring, db_url, emulator):
    """A factory: `await telegram_bot(mode="polling" | "webhook")` starts the bot on the emulator."""
    started: list[App] = []

    async def start(mode: str = "polling", clock: Clock | None = None) -> TelegramBot:
        cfg = replace(
            config,
            telegram=replace(
                config.telegram, api_url=emulator.api_url, file_url=emulator.file_url, poll_timeout=1, mode=mode
            ),
            http=replace(config.http, host="127.0.0.1", port=0, public_url=PUBLIC_URL if mode == "webhook" else ""),
        )
        app = App(cfg, clock=clock or RunningClock(), keyring=keyring, storage_url=db_url)
        channel = TelegramChannel(
            TOKEN, cfg.telegram, app.inbox, webhook_secret=WEBHOOK_SECRET if mode == "webhook" else "",
            public_url=cfg.http.public_url,
        )
        app.add_channel(channel)
        await app.start(http=True)
        started.append(app)
        return TelegramBot(app, channel, emulator)

    yield start
    for app in started:
        await app.stop()


# ---- conversation steps shared by the Telegram tests ------------------------------------------


async def enrol(bot: TelegramBot, user: TgUser, *, name: str = "Hoàng Văn Ba", **invite) -> None:
    """Open the invite deep link (t.me/<bot>?start=CODE sends "/start CODE") and skip the phone."""
    code = await bot.invite(name=name, **invite)
    await user.say(f"/start {code}")
    await user.say(vi("Skip"))  # the plain button of the reply keyboard sends its label


async def report_until_review(user: TgUser, *, photo: bytes | None = None) -> list[SentMessage]:
    """An outreach report for Thôn 3, held yesterday (24/11/2026): 120 people, 50 men, 70 women."""
    await user.say("/baocao")
    await user.press("Thôn 3")
    await user.say("hôm qua")
    await user.press(vi("No"))  # 24/11 is in the Action Month for Gender Equality: not part of it
    await user.press(vi("Village meeting / conference"))
    await user.press("▫️ " + vi("Law on Gender Equality"))
    await user.press("▫️ " + vi("Domestic violence prevention"))
    await user.press(vi("Done"))
    await user.say("120")
    await user.say("50")
    await user.say("70")
    await user.press(vi("No"))
    if photo is None:
        return await user.press(vi("Skip"))
    await user.send_photo(photo)
    return await user.press(vi("Done"))


# ---- the bot as a separate process: python -m bot run ---------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, overrides: dict[str, dict[str, object]]) -> Path:
    """A copy of the project's config.toml with some keys of some [sections] replaced."""
    lines = (ROOT / "config.toml").read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    section = None
    for line in lines:
        header = re.fullmatch(r"\s*\[([A-Za-z0-9_.]+)\]\s*(#.*)?", line)
        if header:
            section = header.group(1)
            out.append(line)
            out += [f"{key} = {json.dumps(value)}" for key, value in overrides.get(section, {}).items()]
            continue
        key = re.match(r"\s*([A-Za-z0-9_]+)\s*=", line)
        if key and section in overrides and key.group(1) in overrides[section]:
            continue  # replaced above
        out.append(line)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


class BotProcess:
    """`python -m bot run` with its own config, database, key and log files."""

    def __init__(self, tmp: Path, emu: TelegramEmulator) -> None:
        self.tmp = tmp
        self.emu = emu
        self.db = tmp / "bot.db"
        self.config = write_config(tmp / "config.toml", {
            "telegram": {"api_url": emu.api_url, "file_url": emu.file_url, "poll_timeout": 1, "mode": "polling"},
            "http": {"host": "127.0.0.1", "port": 0},
            "storage": {"url": f"sqlite+aiosqlite:///{self.db}"},
        })
        env = {k: v for k, v in os.environ.items() if k not in (
            "DATABASE_URL", "TELEGRAM_WEBHOOK_SECRET", "BOT_SECRET_KEY_FILE", "BOT_CONFIG", "TELEGRAM_BOT_TOKEN")}
        env.update(TELEGRAM_BOT_TOKEN=emu.token, BOT_CONFIG=str(self.config), BOT_DATA_DIR=str(tmp),
                   BOT_SECRET_KEY=Fernet.generate_key().decode(), PYTHONUNBUFFERED="1")
        self.env = env
        self.logs: list[Path] = []
        self.proc: subprocess.Popen | None = None

    def invite(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "bot", "invite", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=60)
        (self.tmp / "invite.log").write_text(done.stdout + done.stderr)
        self.logs.append(self.tmp / "invite.log")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def start(self) -> subprocess.Popen:
        log = self.tmp / f"run-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)
        return self.proc

    async def wait_exit(self, timeout: float = 30.0) -> int:
        proc = self.proc
        await eventually(lambda: proc.poll() is not None, timeout, "the bot process to exit")
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        self.proc.kill()

    async def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return await self.wait_exit()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def query(self, sql: str, *params) -> list[tuple]:
        with closing(sqlite3.connect(self.db, timeout=5)) as db:
            return db.execute(sql, params).fetchall()

    def quiet(self) -> bool:
        """Everything received is handled and everything queued is delivered."""
        try:
            [(pending_in,)] = self.query("select count(*) from inbox where processed_at is null")
            [(pending_out,)] = self.query(
                "select count(*) from outbox where delivered_at is null and failed_at is null")
        except sqlite3.OperationalError:  # locked, or the schema is not there yet
            return False
        return pending_in == 0 and pending_out == 0

    def handled(self, update_id: int | None) -> bool:
        if update_id is None:
            return True
        try:
            rows = self.query("select processed_at from inbox where channel = 'telegram' and dedup_key = ?",
                              str(update_id))
        except sqlite3.OperationalError:
            return False
        return bool(rows) and rows[0][0] is not None

    async def settle(self, update_id: int | None = None, timeout: float = 60.0) -> None:
        # A (re)started process imports, checks the schema and connects before it handles anything.
        assert self.proc is not None and self.proc.poll() is None, f"the bot died:\n{self.log_text()[-3000:]}"
        await eventually(lambda: self.handled(update_id) and self.quiet(), timeout,
                         f"the bot process to handle update {update_id}")

    def user(self, user_id: int, first_name: str, **kw) -> TgUser:
        self.emu.user(user_id, first_name, **kw)
        return TgUser(self, user_id, first_name)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())
