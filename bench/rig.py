"""What the scale parts share: the Telegram emulator with a stopwatch, scratch databases, people
written in bulk, and the bot (App + TelegramChannel) or a bare python-telegram-bot echo bot on it.

The emulator is the tests' strict one (tests/emulators/telegram.py), subclassed only to notice,
per chat, the moment a bot message appears, and to count the 429s it answers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet
from sqlalchemy import insert

from core.clock import Clock
from core.config import Config, parse_config
from storage.crypto import Keyring
from storage.models import Identity, Person, PersonRole, PersonVillage
from tests.emulators.telegram import SentMessage, TelegramEmulator

TOKEN = "7350018244:AAHq3vZt9Wk-benchSecretPart_012345678"
ACCOUNT = TOKEN.split(":", 1)[0]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_UID = 10_000_000


# ---- time ----------------------------------------------------------------------------------------


def quiet_moment(now: datetime | None = None) -> datetime:
    """The latest Wednesday 10:00 in Vietnam: no digest or reminder is due then, whatever day the
    bench runs, so no scheduled message lands in the middle of a measurement."""
    local = (now or datetime.now(UTC)).astimezone(TZ)
    day = local.date() - timedelta(days=(local.weekday() - 2) % 7)
    moment = datetime(day.year, day.month, day.day, 10, 0, tzinfo=TZ)
    if moment > local:
        moment -= timedelta(days=7)
    return moment.astimezone(UTC)


class BenchClock(Clock):
    """Starts at a quiet moment and runs with real time (retry_after and back-off still pass)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or quiet_moment()
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


# ---- configuration and keys ----------------------------------------------------------------------


def fresh_key() -> str:
    return Fernet.generate_key().decode()


def keyring_of(key: str) -> Keyring:
    return Keyring({"BOT_SECRET_KEY": key, "BOT_SECRET_KEY_FILE": os.devnull}, allow_generate=False)


def province(communes: int, villages: int = 22) -> list[tuple[str, str, list[tuple[str, str]]]]:
    from bench.generate import layout

    return layout(max(1, communes), villages) if communes > 1 else [
        ("xa001", "UBND xã Số 1", [(f"t{v:02d}", f"Thôn {v}") for v in range(1, villages + 1)])]


def bot_config(world, url: str, *, api_url: str = "", file_url: str = "", poll_timeout: int = 1) -> Config:
    """The bench's bot: the given communes, Telegram at the emulator, no flood throttle (simulated
    people answer as fast as the bot asks, far past the 40 a minute a person is allowed)."""
    raw = {
        "communes": [
            {"id": cid, "name": name, "province": "Thái Nguyên", "timezone": "Asia/Ho_Chi_Minh",
             "villages": [{"id": vid, "name": vname} for vid, vname in villages]}
            for cid, name, villages in world
        ],
        "storage": {"url": url},
        "http": {"port": 0},
        "alerts": {"flood_per_minute": 1_000_000},
    }
    if api_url:
        raw["telegram"] = {"api_url": api_url, "file_url": file_url, "poll_timeout": poll_timeout, "mode": "polling"}
    return parse_config(raw, env={})


# ---- scratch databases ---------------------------------------------------------------------------


def pg_default() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "")


async def _pg_admin(server_url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(server_url)
    dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scratch_database(backend: str, pg_server: str = ""):
    """A fresh, empty database for one measurement, removed afterwards: a SQLite file in a
    temporary folder, or a new database on the PostgreSQL server `pg_server` names."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}"
        return
    from sqlalchemy.engine import make_url

    name = f"bench_scratch_{uuid.uuid4().hex[:10]}"
    await _pg_admin(pg_server, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- people --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    uid: int  # Telegram user id = private chat id
    person_id: int
    commune_id: str
    village_id: str
    village_name: str


async def add_people(engine, config: Config, n: int, *, roles=("reporter",), first_uid: int = FIRST_UID,
                     now: datetime | None = None, batch: int = 5000) -> list[Member]:
    """n enrolled people with a Telegram identity each, spread over the communes' villages
    (a village head each, in order), written with Core executemany."""
    now = now or datetime.now(UTC)
    slots = [(c.id, v.id, v.name) for c in config.communes for v in c.villages]
    async with engine.begin() as conn:
        from sqlalchemy import func, select

        first_id = (await conn.scalar(select(func.max(Person.id))) or 0) + 1
        members, people, role_rows, villages, identities = [], [], [], [], []
        for i in range(n):
            commune_id, village_id, village_name = slots[i % len(slots)]
            pid, uid = first_id + i, first_uid + i
            members.append(Member(uid, pid, commune_id, village_id, village_name))
            people.append(dict(id=pid, name=f"Người thử {i + 1}", commune_id=commune_id, org="village_head",
                               lang="vi", active=True, created_at=now, phone_asked=True,
                               preferred_channel="telegram"))
            role_rows += [dict(person_id=pid, role=r) for r in roles]
            if "reporter" in roles:
                villages.append(dict(person_id=pid, commune_id=commune_id, village_id=village_id))
            identities.append(dict(channel="telegram", account=ACCOUNT, external_id=str(uid), chat_id=str(uid),
                                   person_id=pid, display_name=f"User {uid}", created_at=now, last_seen_at=now))
        for model, rows in ((Person, people), (PersonRole, role_rows), (PersonVillage, villages),
                            (Identity, identities)):
            for j in range(0, len(rows), batch):
                await conn.execute(insert(model.__table__), rows[j:j + batch])
        if conn.dialect.name == "postgresql":
            from sqlalchemy import text

            for table in ("people", "identities"):
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT coalesce(max(id), 1) FROM {table}))"))
    return members


# ---- the emulator with a stopwatch ---------------------------------------------------------------


class _Wait:
    __slots__ = ("predicate", "future", "at")

    def __init__(self, predicate: Callable[[SentMessage], bool]) -> None:
        self.predicate = predicate
        self.future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.at = 0.0


class BenchEmulator(TelegramEmulator):
    """The strict emulator, plus: wait for one chat's next matching bot message and learn the
    moment it appeared; count 429s; remember when each new bot message appeared."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = collections.deque(maxlen=200)  # the tests' full call log would hold every photo
        self.too_many = 0
        self.appeared: list[float] = []  # perf_counter() of every new bot message
        self._waits: dict[int, _Wait] = {}

    def _touch(self, message: SentMessage) -> None:
        super()._touch(message)
        at = time.perf_counter()
        if message.edits == 0:
            self.appeared.append(at)
        wait = self._waits.get(message.chat_id)
        if wait is not None and not wait.future.done() and wait.predicate(message):
            wait.at = at
            wait.future.set_result(message)

    def _error(self, err):
        if err.code == 429:
            self.too_many += 1
        return super()._error(err)

    def expect(self, chat_id: int, predicate: Callable[[SentMessage], bool]) -> _Wait:
        """Arm a wait for this chat; call before the action that should cause the message."""
        wait = _Wait(predicate)
        self._waits[chat_id] = wait
        return wait

    def done_waiting(self, chat_id: int) -> None:
        self._waits.pop(chat_id, None)


def newest_with(emu: TelegramEmulator, chat_id: int, label: str) -> tuple[int, str]:
    """(message id, callback data) of the newest bot message showing a button with that label."""
    chat = emu._chats[chat_id]
    for m in reversed(list(chat.messages.values())):
        if isinstance(m, SentMessage) and not m.deleted:
            for row in m.buttons:
                for text, data in row:
                    if text == label and data is not None:
                        return m.message_id, data
    raise LookupError(f"no button {label!r} in chat {chat_id}")


# ---- the bot and the echo bot on the emulator ----------------------------------------------------


async def start_bot(config: Config, url: str, keyring: Keyring, *, clock: Clock | None = None,
                    unlimited: bool = False):
    """App + TelegramChannel as `python -m bot run` wires them (no HTTP server: polling).

    unlimited: lift the channel's own 28 messages/s limiter too, for runs where the emulator's
    rate limits are off (it mirrors them; left on, it and not the software would be measured)."""
    from bot.app import App, freeze_heap
    from bot.channels.limits import RateLimiter
    from bot.channels.telegram import TelegramChannel

    app = App(config, clock=clock or BenchClock(), keyring=keyring, storage_url=url)
    channel = TelegramChannel(TOKEN, config.telegram, app.inbox)
    if unlimited:
        channel.limiter = RateLimiter(rate=1e9, burst=10**9)
    app.add_channel(channel)
    await app.start(http=False)
    freeze_heap()  # as `bot run` does
    return app, channel


class EchoBot:
    """The floor: a bare python-telegram-bot Application with one MessageHandler that echoes,
    polling the same emulator the same way (timeout, allowed updates), updates handled concurrently
    as the bot handles different people concurrently."""

    def __init__(self, api_url: str, file_url: str, *, poll_timeout: int = 1, concurrent: bool = True,
                 durable_url: str | None = None) -> None:
        """`durable_url`: the durable floor — each update stored with one INSERT + COMMIT (the bot's
        engine settings: on SQLite WAL and synchronous=FULL) before it is answered with the Bot API
        calls the bot makes for that kind of step: a typed one with sendMessage (a button under
        it), a press with answerCallbackQuery + editMessageText + sendMessage (bench/loadgen.py
        floor_script)."""
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.error import TelegramError
        from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

        builder = Application.builder().token(TOKEN).base_url(api_url).base_file_url(file_url)
        if durable_url is not None:
            # Like for like: the floor speaks to the Bot API over the bot's own transport (aiohttp,
            # bot/channels/telegram_http.py); the bare echo bot keeps PTB's default httpx.
            from bot.channels.telegram_http import AiohttpRequest

            builder = (builder.request(AiohttpRequest(connections=8, pool_timeout=10, read_timeout=20))
                       .get_updates_request(AiohttpRequest(connections=1, read_timeout=poll_timeout + 10)))
        self.application = builder.concurrent_updates(concurrent).build()
        self.poll_timeout = poll_timeout

        self.durable_url = durable_url
        self.engine = None

        from bench.loadgen import FLOOR_BUTTON

        button = InlineKeyboardMarkup([[InlineKeyboardButton(FLOOR_BUTTON, callback_data="next")]])

        async def store(update, payload: str) -> None:
            async with self.engine.begin() as conn:
                await conn.execute(_FLOOR.insert().values(update_id=update.update_id, payload=payload))

        async def echo(update, context) -> None:
            if self.engine is None:  # the bare echo bot
                await context.bot.send_message(update.effective_chat.id, update.message.text)
                return
            await store(update, update.message.text)
            await context.bot.send_message(update.effective_chat.id, update.message.text, reply_markup=button)

        async def pressed(update, context) -> None:
            query = update.callback_query
            await store(update, query.data)
            try:
                await query.answer()
            except TelegramError:  # answered too late (the emulator is as strict as Telegram): as the bot does, go on
                pass
            await query.edit_message_text(f"✓ {query.message.text}")
            await context.bot.send_message(update.effective_chat.id, "tiếp theo", reply_markup=button)

        self.application.add_handler(MessageHandler(filters.TEXT, echo))
        self.application.add_handler(CallbackQueryHandler(pressed))

    async def start(self) -> None:
        if self.durable_url is not None:
            from storage.db import make_engine

            self.engine = make_engine(self.durable_url)
            async with self.engine.begin() as conn:
                await conn.run_sync(_FLOOR.metadata.create_all)
        app = self.application
        await app.initialize()
        await app.updater.start_polling(poll_interval=0, timeout=self.poll_timeout,
                                        allowed_updates=["message", "edited_message", "callback_query"])
        await app.start()

    async def stop(self) -> None:
        app = self.application
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if self.engine is not None:
            await self.engine.dispose()


def _floor_table():
    from sqlalchemy import BigInteger, Column, MetaData, Table, Text

    return Table("floor_updates", MetaData(), Column("update_id", BigInteger, primary_key=True),
                 Column("payload", Text))


_FLOOR = _floor_table()


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc/self/status (getrusage elsewhere)."""
    try:
        fields = {}
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0]) / 1024
        return fields["VmRSS"], fields["VmHWM"]
    except (OSError, KeyError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak
