"""The Zalo Bot API (the Telegram-like one), through a thin client of our own on one aiohttp session.

What differs from Telegram (see PLATFORMS.md): getUpdates returns ONE update, with no offset and no
update id, and an empty long poll answers 408, which means "idle"; updates are deduplicated by
message_id (the inbox's unique key); a 200 with `ok: false` is a failure; 429 means the monthly
quota is used up, which is for the operator to hear about, not for the outbox to retry; 403 is
Zalo's "internal server error", retried three times within a minute and then given up (see
TransientRetries); there are no buttons, so choices go out as a numbered list and come back as
typed text. Group chats are ignored: the bot works in private chats only. The token sits in the
URL path: no log line or exception of this module carries it.

Photos go out with sendPhoto {chat_id, photo: a URL Zalo fetches itself}: only with [http]
public_url set (then the capabilities say the chat takes JPG and PNG, and a photo reply carries
its signed link as `url`); when sendPhoto fails, the reply's `instead` (the link in words) goes as
text. Without public_url, no photo goes out (handlers then send links in the text).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from bot.channels.base import Channel, render_plain
from bot.channels.limits import RateLimiter
from bot.channels.split import split_text, utf16_len
from core.config import ZaloBotConfig
from core.events import Capabilities, Delivery, Incoming, Reply

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # counted like Java strings (UTF-16 units): never more than Zalo's characters
MAX_PHOTO_BYTES = 10 * 1024 * 1024
SECRET_HEADER = "X-Bot-Api-Secret-Token"
IDLE = 408
QUOTA = 429
PERMANENT = (400, 401, 404)  # a bad request, a bad token, a person who left: retrying changes nothing
# Zalo's error tables give 403 as "internal server error" (as an HTTP status, or as the error code
# in a body): transient, so retried after these many seconds, three times within a minute, then
# given up as a permanent failure is (the outbox's due_at does the waiting, never a sleep here).
TRANSIENT = 403
TRANSIENT_RETRIES = (5.0, 15.0, 30.0)
PHOTO_TYPES = ("image/jpeg", "image/png")  # what sendPhoto shows, by a URL Zalo fetches


class TransientRetries:
    """Counts the 403s in a row for one thing sent to one chat (both Zalo channels use it): the
    delay before the next try, or None once the retries are spent. In memory: a restart starts the
    count again, and the outbox's MAX_ATTEMPTS still bounds any row."""

    LIMIT = 10_000  # entries kept at most (each is removed on the outcome that ends it)

    def __init__(self, delays: tuple[float, ...] = TRANSIENT_RETRIES) -> None:
        self.delays = delays
        self._count: dict[tuple[str, str], int] = {}

    @staticmethod
    def _key(chat_id: str, what) -> tuple[str, str]:
        raw = what if isinstance(what, str) else json.dumps(what, sort_keys=True, ensure_ascii=False)
        return chat_id, hashlib.sha256(raw.encode()).hexdigest()

    def failed(self, chat_id: str, what) -> float | None:
        key = self._key(chat_id, what)
        n = self._count.pop(key, 0)
        if n >= len(self.delays):
            return None  # retried enough: give up
        if len(self._count) >= self.LIMIT:
            self._count.pop(next(iter(self._count)))
        self._count[key] = n + 1
        return self.delays[n]

    def done(self, chat_id: str, what) -> None:
        """It went out, or failed otherwise: the count starts again."""
        self._count.pop(self._key(chat_id, what), None)

    def delivery(self, channel: str, account: str, chat_id: str, what, error: str, ids: list[str]) -> Delivery:
        """The outcome of a 403: a retry after the next delay, or given up once they are spent."""
        delay = self.failed(chat_id, what)
        if delay is None:
            log.warning("%s %s: Zalo answered 403 (internal server error) %d times in a row; giving up",
                        channel, account, len(self.delays) + 1)
            return Delivery(ok=False, permanent=True, platform_ids=ids,
                            error=f"{error} (internal server error, given up after {len(self.delays)} retries)"[:200])
        return Delivery(ok=False, retry_after=delay, error=f"{error} (internal server error, retried)"[:200],
                        platform_ids=ids)


class ZaloBotError(Exception):
    """A failed call; `code` is Zalo's error_code (or the HTTP status), the text never the token."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


def account_of(token: str) -> str:
    """The public part that names a bot: its numeric id where the token is shaped "<id>:<secret>",
    else a digest (identities are keyed by it, so it must never change for a token)."""
    head, sep, _ = token.partition(":")
    if sep and head.isdigit():
        return head
    return "h" + hashlib.sha256(token.encode()).hexdigest()[:16]


def webhook_path(commune_id: str) -> str:
    return f"/zalo/bot/{commune_id}/webhook"


def unwrap(body) -> dict | None:
    """Webhook bodies come flat, or wrapped as {"ok": true, "result": {...}} as the docs show."""
    if isinstance(body, dict) and "result" in body and "message" not in body:
        body = body["result"]
    return body if isinstance(body, dict) else None


class ZaloBotChannel(Channel):
    name = "zalo_bot"
    # The free plan: 3,000 messages a month, 50 people per bot.
    capabilities = Capabilities(photos=True, monthly_quota=3000, max_users=50)
    reports_status = True  # on_status on connect and on losing the platform
    per_account = True  # the outbox sends a chat's messages through the bot that saw the person

    def __init__(self, token: str, config: ZaloBotConfig, inbox, *, communes: tuple[str, ...],
                 webhook_secret: str = "", public_url: str = "") -> None:
        self.config = config
        self.inbox = inbox
        self.communes = communes
        self.webhook_secret = webhook_secret
        self.public_url = public_url
        if public_url:  # sendPhoto takes a URL that Zalo fetches: only a public one will do
            self.capabilities = replace(self.capabilities, files=True, file_types=PHOTO_TYPES)
        self.account = account_of(token)
        self._token = token
        self._http: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task | None = None
        self._stopping = False
        self.limiter = RateLimiter(rate=10, burst=10)
        self.transient = TransientRetries()
        self.on_status = lambda connected, detail="": None  # the App's hook (bot/channel_status.py)
        self.on_quota = lambda channel: None  # wired to an operator alert (bot/zalo.py)
        self._connected: bool | None = None

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        # One session for the life of the channel; reads wait longer than a long poll lasts.
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.config.poll_timeout + 10),
        )
        try:
            me = await self.call("getMe")
            log.info("zalo_bot %s: connected as %s", self.account, (me or {}).get("account_name", "?"))
        except (ZaloBotError, ConnectionError) as exc:
            log.warning("zalo_bot %s: getMe failed (%s); going on", self.account, exc)
        if self.config.mode == "webhook":
            url = self.public_url + webhook_path(self.communes[0])
            await self.call("setWebhook", url=url, secret_token=self.webhook_secret)
        else:
            try:  # polling while a webhook is set would receive nothing
                await self.call("deleteWebhook")
            except (ZaloBotError, ConnectionError) as exc:
                log.info("zalo_bot %s: deleteWebhook: %s", self.account, exc)
            self._poller = asyncio.create_task(self._poll(), name=f"zalo-bot-poll-{self.account}")

    async def stop(self) -> None:
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    def routes(self) -> list[web.RouteDef]:
        if self.config.mode != "webhook":
            return []
        return [web.post(webhook_path(c), self._webhook) for c in self.communes]

    def _status(self, connected: bool, detail: str = "") -> None:
        if connected != self._connected:
            self._connected = connected
            self.on_status(connected, detail)

    # ---- the API ------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")

    async def call(self, method: str, **params):
        """POST one method; its `result`, or ZaloBotError (HTTP 200 with ok: false included), or
        ConnectionError for the network. Nothing raised here carries the token."""
        assert self._http is not None, "start() the channel first"
        timeout = None if method == "getUpdates" else aiohttp.ClientTimeout(total=30)
        try:
            async with self._http.post(f"{self.config.api_url}{self._token}/{method}", json=params,
                                       timeout=timeout) as resp:
                status, raw = resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # aiohttp's messages name the URL, and the URL holds the token.
            raise ConnectionError(f"{type(exc).__name__}: {self._redact(str(exc))}"[:300]) from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise ZaloBotError(status, f"HTTP {status}, not JSON") from None
        if not isinstance(body, dict):
            raise ZaloBotError(status, "unexpected reply")
        if status == 200 and body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code") or status
        raise ZaloBotError(int(code) if str(code).isdigit() else status,
                           self._redact(str(body.get("description") or f"HTTP {status}"))[:200])

    # ---- receiving ----------------------------------------------------------------------------

    async def poll_once(self) -> int:
        """One long poll; how many updates it brought (0 when idle)."""
        if self.config.mode == "webhook":
            raise RuntimeError("zalo_bot is configured for webhooks: polling would receive nothing")
        try:
            result = await self.call("getUpdates", timeout=self.config.poll_timeout)
        except ZaloBotError as exc:
            if exc.code == IDLE:  # nothing came during the long poll
                self._status(True)
                return 0
            raise
        self._status(True)
        updates = result if isinstance(result, list) else [result] if result else []
        for update in updates:
            await self._store(update)
        return len(updates)

    async def _poll(self) -> None:
        backoff = 1.0
        while not self._stopping:
            try:
                await self.poll_once()
                backoff = 1.0
            except (ZaloBotError, ConnectionError) as exc:
                self._status(False, str(exc)[:100])
                log.warning("zalo_bot %s polling: %s; retrying in %.0f s", self.account, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)

    async def _store(self, update) -> None:
        """Zalo will not send it again: keep trying to store it for a while before giving up."""
        for attempt in range(5):
            try:
                await self.ingest(update)
                return
            except Exception as exc:  # noqa: BLE001 - the database may be busy or restarting
                log.warning("zalo_bot %s: could not store an update (%s)", self.account, type(exc).__name__)
                await asyncio.sleep(0.5 * 2 ** attempt)
        log.error("zalo_bot %s: an update was lost: the database did not take it", self.account)

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.webhook_secret or not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            return web.Response(status=403)
        raw = await request.read()
        if not raw.strip():
            return web.Response(status=200)  # an empty body with the right secret (Zalo checking the URL)
        try:
            update = unwrap(json.loads(raw))
        except ValueError:
            return web.Response(status=400)
        if update is not None:
            await self.ingest(update)
        return web.Response(status=200)

    async def ingest(self, update: dict) -> None:
        event = await self.to_incoming(update)
        if event is not None:
            await self.inbox.put(event)

    async def to_incoming(self, update: dict) -> Incoming | None:
        msg = update.get("message") if isinstance(update, dict) else None
        if not isinstance(msg, dict):
            return None
        sender = msg.get("from") or {}
        user_id = str(sender.get("id") or "")
        if not user_id or sender.get("is_bot"):
            return None
        chat = msg.get("chat") or {}
        message_id = str(msg.get("message_id") or "")
        if not message_id:  # not seen in practice; a stable key still keeps a repeat out
            message_id = "h" + hashlib.sha256(json.dumps(update, sort_keys=True).encode()).hexdigest()[:24]
        common = dict(
            channel=self.name, account=self.account, user_id=user_id, chat_id=str(chat.get("id") or user_id),
            dedup_key=message_id, display_name=str(sender.get("display_name") or ""), sent_at=_from_ms(msg.get("date")),
        )
        if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
            return None  # a group chat ("coming soon" on Zalo Bot): ignored, nothing stored or sent
        event = str(update.get("event_name") or "")
        if event == "message.image.received" or msg.get("photo_url") or msg.get("photo"):
            url = msg.get("photo_url") or msg.get("photo")  # live payloads say photo_url, the docs photo
            return Incoming(**common, kind="photo", photo_ref=url if isinstance(url, str) else None,
                            text=msg.get("caption"))
        if event == "message.sticker.received":
            return Incoming(**common, kind="sticker")
        if event in ("message.text.received", "") and isinstance(msg.get("text"), str):
            return Incoming(**common, kind="text", text=msg["text"])
        return Incoming(**common, kind="unsupported")  # voice, files, links, protected senders

    async def fetch_photo(self, url) -> bytes | None:
        """Media URLs expire: the runtime fetches the photo as soon as the update is stored."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return None
        try:
            async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=20)) as resp:
                if resp.status != 200:
                    log.warning("zalo_bot %s: photo download answered %s", self.account, resp.status)
                    return None
                data = await resp.content.read(MAX_PHOTO_BYTES + 1)
                return data if len(data) <= MAX_PHOTO_BYTES else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("zalo_bot %s: photo download failed: %s", self.account, type(exc).__name__)
            return None

    # ---- sending ------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        """Send the reply's parts, skipping the `done` first ones a previous attempt delivered: its
        text, then its photo (by its URL) where it has one."""
        ids: list[str] = []
        text = render_plain(reply)
        parts: list[str | None] = list(split_text(text, MAX_TEXT, utf16_len) if text.strip() else [])
        if reply.photo and (self._fetchable(reply.url) or reply.instead):
            parts.append(None)  # the photo
        for part in parts[done:]:
            await self.limiter.acquire()
            key = part if part is not None else f"photo:{reply.url or reply.instead}"
            try:
                result = await (self.call("sendMessage", chat_id=chat_id, text=part) if part is not None
                                else self._photo(chat_id, reply))
            except ConnectionError as exc:
                self.transient.done(chat_id, key)
                return Delivery(ok=False, error=str(exc)[:200], platform_ids=ids)
            except ZaloBotError as exc:
                if exc.code == TRANSIENT:
                    return self._transient(chat_id, key, exc, ids)
                self.transient.done(chat_id, key)
                if exc.code == QUOTA:
                    self._quota_exceeded()
                    # Not retried: the quota renews monthly. Pushes go to the person's other channels.
                    return Delivery(ok=False, permanent=True, error=f"quota exceeded: {exc}"[:200], platform_ids=ids)
                return Delivery(ok=False, permanent=exc.code in PERMANENT, error=str(exc)[:200], platform_ids=ids)
            self.transient.done(chat_id, key)
            ids.append(str((result or {}).get("message_id", "")))
        return Delivery(ok=True, platform_ids=ids)

    def _fetchable(self, url: str) -> bool:
        return bool(self.public_url) and url.startswith(("https://", "http://"))

    async def _photo(self, chat_id: str, reply: Reply):
        """sendPhoto with the photo's URL; its link in words instead when that fails (the quota aside)."""
        if self._fetchable(reply.url):
            try:
                return await self.call("sendPhoto", chat_id=chat_id, photo=reply.url)
            except (ZaloBotError, ConnectionError) as exc:
                if not reply.instead or isinstance(exc, ZaloBotError) and exc.code == QUOTA:
                    raise
                log.warning("zalo_bot %s: sendPhoto failed (%s); the photo's link is sent instead", self.account, exc)
        return await self.call("sendMessage", chat_id=chat_id, text=reply.instead[:MAX_TEXT])

    def _transient(self, chat_id: str, part: str, exc: ZaloBotError, ids: list[str]) -> Delivery:
        return self.transient.delivery("zalo_bot", self.account, chat_id, part, str(exc), ids)

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery:
        return Delivery(ok=True)  # never called: can_edit is False, the outbox drops edits

    def _quota_exceeded(self) -> None:
        log.error("zalo_bot %s: Zalo answered 429, the monthly message quota is used up; telling the admins",
                  self.account)
        self.on_quota(self)


def _from_ms(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
