"""Telegram through python-telegram-bot, started by hand so other channels share the event loop.

Updates are written to the inbox before Telegram is told they arrived: in polling mode the
offset moves past an update only after it is stored; in webhook mode the 200 follows the write.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import warnings
from datetime import UTC, datetime, timedelta

from aiohttp import web
from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBUserWarning

from bot.channels.base import Channel, strip_html
from bot.channels.limits import RateLimiter
from bot.channels.split import split_text, utf16_len
from bot.channels.telegram_http import AiohttpRequest
from core.config import TelegramConfig
from core.events import Capabilities, Choice, Delivery, Incoming, Reply
from core.i18n import translate

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]

# Bot.do_api_request warns that getUpdates, sendMessage and editMessageText have methods of their
# own; those methods parse Telegram's answers into objects this channel never reads (_api, _poll).
_OWN_METHODS = r"Please use 'Bot\.(getUpdates|sendMessage|editMessageText)'"


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel(Channel):
    name = "telegram"
    capabilities = Capabilities(buttons=100, toggles=True, edit=True, delete=True, files=True, file_types=("*",),
                                photos=True, contact=True, location=True)  # delete: within 48 hours, in private chats
    reports_status = True  # on_status on connect and on losing the platform

    def __init__(self, token: str, config: TelegramConfig, inbox, *, webhook_secret: str = "", public_url: str = "") -> None:
        # Here rather than at import: a test runner restores the warning filters after each test.
        warnings.filterwarnings("ignore", message=_OWN_METHODS, category=PTBUserWarning)
        self.config = config
        self.inbox = inbox
        self.webhook_secret = webhook_secret
        self.public_url = public_url
        self.account = token.split(":", 1)[0]  # the bot's numeric id: public, unlike the token
        # telegram.Bot, not ExtBot: none of ExtBot's extras is used here (defaults, arbitrary
        # callback data, its rate limiter: the channel paces itself), and each costs on every call.
        self.bot = Bot(
            token,
            base_url=config.api_url,
            base_file_url=config.file_url,
            # Over aiohttp (bot/channels/telegram_http.py). 8 connections carry Telegram's 30
            # messages a second at 250 ms each. A request waits up to 10 s for one of them rather
            # than failing after PTB's default 1 s.
            request=AiohttpRequest(connections=8, pool_timeout=10, read_timeout=20, write_timeout=30,
                                   connect_timeout=10),
            get_updates_request=AiohttpRequest(connections=1, read_timeout=config.poll_timeout + 10,
                                               connect_timeout=10),
        )
        # Telegram answers 429 past about 30 messages a second overall; stay under it.
        self.limiter = RateLimiter(rate=29, burst=1)  # evenly spaced: never 30 inside one second
        self._poller: asyncio.Task | None = None
        self._answering: set[asyncio.Task] = set()  # callback answers on their way
        self._stopping = False
        self.on_status = lambda connected, detail="": None  # the App's hook: bot/channel_status.py
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    @connected.setter
    def connected(self, value: bool) -> None:
        if value != self._connected:
            self._connected = value
            self.on_status(value)

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.bot.initialize()  # getMe
        await self.bot.set_my_commands(
            [BotCommand("start", translate("vi", "Start, or enter an invite code")),
             BotCommand("trogiup", translate("vi", "Help"))]
        )
        if self.config.mode == "webhook":
            await self.bot.set_webhook(
                url=f"{self.public_url}/telegram/webhook", secret_token=self.webhook_secret,
                max_connections=1, allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await self.bot.delete_webhook()
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        self.connected = True

    async def stop(self) -> None:
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self._answering:
            await asyncio.wait(self._answering, timeout=5)
        await self.bot.shutdown()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/telegram/webhook", self._webhook)] if self.config.mode == "webhook" else []

    # ---- receiving --------------------------------------------------------------------------

    async def _poll(self) -> None:
        offset: int | None = None
        backoff = 1.0
        while not self._stopping:
            try:
                # As JSON: Update objects were built only to read a few fields (_to_incoming).
                # The read waits for the long poll on top of the request's own timeout, as
                # Bot.get_updates has it.
                updates = await self.bot.do_api_request(
                    "getUpdates", api_kwargs={"offset": offset, "timeout": self.config.poll_timeout,
                                              "allowed_updates": ALLOWED_UPDATES},
                    read_timeout=2 * self.config.poll_timeout + 10)
                self.connected, backoff = True, 1.0
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - network, conflict, a revoked token, garbage: keep trying
                self.connected = False
                log.warning("telegram polling: %s; retrying in %.0f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            if not updates:
                continue
            try:
                await self.ingest_batch(updates)
            except Exception:  # noqa: BLE001 - not stored: leave the offset so Telegram re-sends them
                log.exception("could not store %d telegram updates", len(updates))
                await asyncio.sleep(backoff)
                continue
            offset = updates[-1]["update_id"] + 1

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.webhook_secret or not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            return web.Response(status=403)
        try:
            data = await request.json()
        except Exception:  # noqa: BLE001 - malformed body: nothing to store, nothing to retry
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400)
        await self.ingest_batch([data])
        return web.Response(status=200)

    async def ingest_batch(self, updates: list[dict]) -> None:
        """The whole batch stored in one transaction, in order; then the buttons' spinners are
        stopped beside the next poll, which does not wait for Telegram's answer."""
        events = [(u, self._read(u)) for u in updates]
        await self.inbox.put_many([e for _, e in events if e is not None])
        for update, event in events:
            if event is not None and event.kind == "choice":  # its id is a str (_to_incoming)
                task = asyncio.create_task(self._answer(update["callback_query"]["id"]))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)

    async def _answer(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)  # stops the button's spinner
        except TelegramError as exc:
            log.info("callback answer failed: %s", type(exc).__name__)

    def _read(self, update: dict) -> Incoming | None:
        """An update the bot cannot read (a field missing or of the wrong type) is skipped, not
        retried: Telegram would send it again and again, and everything after it would wait."""
        try:
            return self._to_incoming(update)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            log.warning("telegram update %s skipped: not in the shape the Bot API documents", update.get("update_id"))
            return None

    def _to_incoming(self, update: dict) -> Incoming | None:
        """The fields the bot reads, from the update's JSON as the Bot API documents it."""
        base = dict(channel=self.name, account=self.account, dedup_key=str(update["update_id"]))
        q = update.get("callback_query")
        if q is not None:
            chat = (q.get("message") or {}).get("chat")  # absent for a button of an inline message
            if chat is None:
                return None
            if not isinstance(q["id"], str):  # answered with it (ingest_batch)
                raise TypeError("callback_query.id")
            user = q["from"]
            return Incoming(
                **base, user_id=str(user["id"]), chat_id=str(chat["id"]), kind="choice", choice=q.get("data") or "",
                display_name=_full_name(user), lang_hint=user.get("language_code"),
            )
        edited = update.get("edited_message")
        msg = update.get("message") or edited
        if msg is None or msg.get("from") is None:
            return None
        user, chat = msg["from"], msg["chat"]
        common = dict(
            **base, user_id=str(user["id"]), chat_id=str(chat["id"]), display_name=_full_name(user),
            lang_hint=user.get("language_code"), sent_at=datetime.fromtimestamp(msg["date"], UTC),
            message_id=str(msg["message_id"]),
        )
        text = msg.get("text")
        if chat.get("type") != "private":  # its text only to see a cry for help; nothing else is read
            return Incoming(**common, kind="group", text=(text or "")[:200] or None)
        if edited is not None:
            return Incoming(**common, kind="edited", text=text)
        if text is not None:
            return Incoming(**common, kind="text", text=text)
        if msg.get("photo"):  # downloaded once stored (fetch_photo): the poll does not wait for it
            return Incoming(**common, kind="photo", photo_ref=msg["photo"][-1]["file_id"], text=msg.get("caption"))
        if msg.get("contact") is not None:
            return Incoming(**common, kind="contact", contact_phone=msg["contact"]["phone_number"])
        if msg.get("location") is not None:
            where = msg["location"]
            return Incoming(**common, kind="location", location=(where["latitude"], where["longitude"]))
        if msg.get("sticker") is not None:
            return Incoming(**common, kind="sticker")
        return Incoming(**common, kind="unsupported")

    async def fetch_photo(self, file_id: str) -> bytes | None:
        try:
            file = await self.bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("photo download failed: %s", type(exc).__name__)
            return None

    # ---- sending ----------------------------------------------------------------------------

    def _markup(self, reply: Reply) -> dict | None:
        """The reply's keyboard as the Bot API's JSON. A plain dict: python-telegram-bot's keyboard
        objects were built only to be turned back into this at every send."""
        if reply.ask_contact:
            rows = [[{"text": c.label}] for c in reply.choices]
            return {"keyboard": [[{"text": "📱 " + reply_contact_label(reply), "request_contact": True}], *rows],
                    "one_time_keyboard": True, "resize_keyboard": True}
        buttons = [c for c in reply.choices if len(c.data.encode()) <= MAX_CALLBACK_BYTES]
        if not buttons:
            return {"remove_keyboard": True} if reply.remove_keyboard else None
        options = [c for c in buttons if not c.control]
        controls = [c for c in buttons if c.control]
        rows = _rows(options, reply.columns)
        numbers = [c for c in controls if not c.keyword]
        named = [c for c in controls if c.keyword]
        rows += _rows(numbers, 5)
        short = all(len(c.label) <= 14 for c in named)
        rows += _rows(named, 3 if short else 1)
        return {"inline_keyboard": [[{"text": _label(c), "callback_data": c.data} for c in row] for row in rows]}

    async def _api(self, method: str, **params):
        """One Bot API call through python-telegram-bot's request and error handling, its answer
        left as JSON: only a message id is read from it, and parsing it into a Message (with every
        button of its keyboard) was a third of a send's time."""
        return await self.bot.do_api_request(
            method, api_kwargs={k: v for k, v in params.items() if v is not None})

    def _parts(self, chat_id: str, reply: Reply) -> list:
        """One coroutine factory per message this reply becomes, in order."""
        parts = []
        if reply.photo:
            parts.append(lambda: _id_of(self.bot.send_photo(chat_id, reply.photo)))
        if reply.file:
            parts.append(lambda: _id_of(self.bot.send_document(chat_id, reply.file[1], filename=reply.file[0])))
        if reply.text:
            text, mode = reply.text, "HTML" if reply.html else None
            if mode and len(text) > MAX_TEXT:
                text, mode = strip_html(text), None  # splitting HTML could cut a tag in two
            chunks = split_text(text, MAX_TEXT, utf16_len)
            markup = self._markup(reply)
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                parts.append(lambda c=chunk, last=last: self._send_chunk(chat_id, c, mode, markup if last else None))
        return parts

    async def _send_chunk(self, chat_id: str, text: str, mode, markup) -> str:
        try:
            sent = await self._api("sendMessage", chat_id=chat_id, text=text, parse_mode=mode, reply_markup=markup)
        except BadRequest as exc:
            if mode is None or "parse" not in exc.message.lower():
                raise
            sent = await self._api("sendMessage", chat_id=chat_id, text=strip_html(text), reply_markup=markup)
        return str(sent["message_id"])

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        """Send the reply's messages, skipping the `done` first ones a previous attempt delivered."""
        ids: list[str] = []
        try:
            if reply.commands is not None and done == 0:
                await self.bot.set_my_commands(
                    [BotCommand(c, d) for c, d in reply.commands], scope=BotCommandScopeChat(int(chat_id))
                )
            for part in self._parts(chat_id, reply)[done:]:
                await self.limiter.acquire()
                ids.append(await part())
        except RetryAfter as exc:
            return Delivery(ok=False, retry_after=_seconds(exc.retry_after), error="RetryAfter", platform_ids=ids)
        except Forbidden as exc:
            return Delivery(ok=False, permanent=True, error=f"Forbidden: {exc.message}"[:200], platform_ids=ids)
        except BadRequest as exc:
            return Delivery(ok=False, permanent=True, error=f"BadRequest: {exc.message}"[:200], platform_ids=ids)
        except (TimedOut, NetworkError) as exc:
            return Delivery(ok=False, error=type(exc).__name__, platform_ids=ids)
        return Delivery(ok=True, platform_ids=ids)

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery:
        markup = self._markup(reply)
        text = reply.text[:MAX_TEXT]
        await self.limiter.acquire()
        try:
            await self._api("editMessageText", text=text, chat_id=chat_id, message_id=int(platform_id),
                            parse_mode="HTML" if reply.html else None, reply_markup=markup)
        except RetryAfter as exc:
            return Delivery(ok=False, retry_after=_seconds(exc.retry_after), error="RetryAfter")
        except BadRequest as exc:
            # Not modified, or gone: either way there is nothing left to do.
            log.info("telegram edit skipped: %s", exc.message[:80])
        except Forbidden as exc:
            return Delivery(ok=False, permanent=True, error=f"Forbidden: {exc.message}"[:200])
        except (TimedOut, NetworkError) as exc:
            return Delivery(ok=False, error=type(exc).__name__)
        return Delivery(ok=True, platform_ids=[platform_id])


    async def delete(self, chat_id: str, platform_ids: list[str]) -> Delivery:
        for platform_id in platform_ids:
            await self.limiter.acquire()
            try:
                await self.bot.delete_message(chat_id, int(platform_id))
            except RetryAfter as exc:
                return Delivery(ok=False, retry_after=_seconds(exc.retry_after), error="RetryAfter")
            except BadRequest as exc:  # too old or already gone: nothing more can be done
                log.info("telegram delete skipped: %s", exc.message[:80])
            except Forbidden as exc:
                return Delivery(ok=False, permanent=True, error=f"Forbidden: {exc.message}"[:200])
            except (TimedOut, NetworkError) as exc:
                return Delivery(ok=False, error=type(exc).__name__)
        return Delivery(ok=True)


def _full_name(user: dict) -> str:
    """As python-telegram-bot's User.full_name."""
    first, last = user.get("first_name") or "", user.get("last_name")
    return f"{first} {last}" if last else first


async def _id_of(sending) -> str:
    return str((await sending).message_id)


def reply_contact_label(reply: Reply) -> str:
    return reply.contact_label or translate("vi", "Share my phone number")


def _label(choice: Choice) -> str:
    if choice.selected is None:
        return choice.label
    return ("✅ " if choice.selected else "▫️ ") + choice.label


def _rows(buttons: list[Choice], columns: int) -> list[list[Choice]]:
    columns = max(1, columns)
    return [buttons[i : i + columns] for i in range(0, len(buttons), columns)]
