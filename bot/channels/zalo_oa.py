"""A Zalo Official Account (OA API v3): what a commune's official account uses, with real buttons.

- Sending: POST {api_url}/v3.0/oa/message/cs with the header `access_token`; success is
  {"error": 0}, failures come as a non-zero `error` with HTTP 200.
- Buttons: up to 5 `oa.query.hide` buttons. A click comes back as ordinary text, the button's
  payload, which is "#" + the choice's data, so the engine sees the same press as on Telegram
  (and a late press on an old question is recognised). Longer lists go out numbered.
- Tokens: the OAuth v4 pair lives in the database, encrypted, and wins over the environment once
  there. It is refreshed before it expires, or once on an expired-token error (-216 or HTTP 401)
  followed by one retry, under a lock that holds across processes (the token row: SELECT ... FOR
  UPDATE on PostgreSQL, the IMMEDIATE transaction on SQLite). The refresh token is single-use:
  the new pair is written in the transaction that holds the lock.
- Webhook: X-ZEvent-Signature = "mac=" + sha256_hex(app_id + raw body + timestamp + OA secret
  key), over the raw bytes as received (accepted with or without the "mac=" prefix); stored in
  the inbox (msg_id is the dedup key), then 200. Group events (user_send_group_*, the paid group
  messaging) are answered 200 and ignored: the bot works in private chats only.
- 403 (an HTTP status, or `error` in a 200 body) is Zalo's "internal server error": retried
  three times within a minute, then given up (TransientRetries, shared with the Zalo Bot).
- The 7-day window: a message that cannot go out (error -230, or the person last wrote more than
  7 days ago) is held and queued again when the person writes on the OA; the outbox meanwhile
  tries their other channels for pushes.
- Files and photos: uploaded, then sent as an attachment message to /v3.0/oa/message/cs. A file
  (PDF, DOC or DOCX up to 5 MB; never an .xlsx) goes to /v2.0/oa/upload/file, multipart field
  `file`, which answers `data.token` (one integration reads `data.attachment_id`: either is taken),
  and is sent as {"attachment": {"type": "file", "payload": {"token": ...}}}. A photo (JPG or PNG up
  to 1 MB, kept about 7 days; a larger one is re-encoded or scaled down first) goes to
  /v2.0/oa/upload/image, which answers `data.attachment_id`, and is sent as the media template
  {"attachment": {"type": "template", "payload": {"template_type": "media", "elements":
  [{"media_type": "image", "attachment_id": ...}]}}} (the shapes of Zalo's own Java SDK,
  zaloplatform/zalo-java-sdk, src/test/java/v3/SendFileCSMessage.java, SendImageCSMessage.java and
  UploadFile.java, and of PLATFORMS.md). When the upload or the attachment message fails, for any
  reason but the closed window, the reply's `instead` (its signed link, in words) goes as text in
  its place; a reply without one fails as a text would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import re
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bot.channels.base import Channel, render_plain
from bot.channels.limits import RateLimiter
from bot.channels.split import split_text, utf16_len
from bot.channels.zalo_bot import TRANSIENT, TransientRetries
from bot.logs import redact_also
from core.config import ZaloOAConfig
from core.events import Capabilities, Choice, Delivery, Incoming, Reply
from storage import outbox as outbox_store
from storage import zalo as store
from storage.models import Identity
from storage.people import mark_reachable

log = logging.getLogger(__name__)

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_TITLE = 100
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PDF, DOC = "application/pdf", "application/msword"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
JPEG, PNG = "image/jpeg", "image/png"
UPLOAD_FILES = (PDF, DOC, DOCX)  # /v2.0/oa/upload/file; an .xlsx cannot be uploaded
UPLOAD_IMAGES = (JPEG, PNG)  # /v2.0/oa/upload/image
MAX_UPLOAD_FILE = 5 * 1024 * 1024
MAX_UPLOAD_IMAGE = 1024 * 1024
WINDOW = timedelta(days=7)
SIGNATURE_HEADER = "X-ZEvent-Signature"
EXPIRED_TOKEN = -216
WINDOW_CLOSED = -230
RETRYABLE = (-32, -500)  # rate limited, server error: worth another try later
BUTTON_PAYLOAD = re.compile(r"#([A-Za-z][A-Za-z0-9]*:[A-Za-z0-9:._\-]*)")
UNSUPPORTED = ("user_send_file", "user_send_audio", "user_send_video", "user_send_gif", "user_send_link",
               "user_send_business_card")


class OAError(Exception):
    def __init__(self, code: int, description: str, *, permanent: bool = False) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.permanent = permanent


class WindowClosed(Exception):
    """Zalo said -230: the person has not interacted with the OA within 7 days."""


def webhook_path(commune_id: str) -> str:
    return f"/zalo/oa/{commune_id}/webhook"


def signature(app_id: str, raw: bytes, timestamp: str, secret_key: str) -> str:
    """Plain SHA-256 (not HMAC) over the raw body as received, with the OA secret key."""
    return "mac=" + hashlib.sha256(app_id.encode() + raw + timestamp.encode() + secret_key.encode()).hexdigest()


def signature_matches(given: str, expected: str) -> bool:
    """The header as Zalo documents it ("mac=" + hex) or the bare hex, compared in constant time."""
    given = given.strip()
    if given[:4].lower() == "mac=":
        given = given[4:]
    bare = expected.removeprefix("mac=")
    return bool(given) and hmac.compare_digest(given.lower().encode(), bare.encode())


def is_group_event(name: str) -> bool:
    """user_send_group_text, oa_send_group_image, ...: a group's traffic, not a private chat's."""
    return "group" in name.split("_")


class OATokens:
    """The official account's access token, refreshed once however many senders and processes ask."""

    def __init__(self, channel: ZaloOAChannel, *, app_secret: str, seed_access: str, seed_refresh: str) -> None:
        self.channel = channel
        self.app_secret = app_secret
        self.seed = (seed_access, seed_refresh)
        self.margin = timedelta(minutes=channel.config.refresh_before_minutes)
        self._pair: store.TokenPair | None = None
        self._lock = asyncio.Lock()
        self.on_problem = lambda problem: None  # wired to an operator alert (bot/zalo.py)

    @property
    def account(self) -> str:
        return self.channel.account

    def _due(self, pair: store.TokenPair, now: datetime) -> bool:
        return not pair.access or (pair.expires_at is not None and pair.expires_at - self.margin <= now)

    async def current(self) -> str:
        ch = self.channel
        if self._pair is None:
            async with ch.sessions() as session, session.begin():
                if all(self.seed):
                    await store.seed_tokens(session, ch.keyring, self.account, *self.seed, now=ch.clock.now())
                self._pair = await store.load_tokens(session, ch.keyring, self.account)
            if self._pair is None:
                raise OAError(EXPIRED_TOKEN, "no token pair: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN")
            for secret in (self._pair.access, self._pair.refresh):
                redact_also(secret)
        if self._due(self._pair, ch.clock.now()):
            return await self.refresh(self._pair.access)
        return self._pair.access

    async def refresh(self, stale: str) -> str:
        """A new access token, unless another sender or process has already got one."""
        ch = self.channel
        async with self._lock:
            async with ch.sessions() as session, session.begin():
                pair = await store.load_tokens(session, ch.keyring, self.account, lock=True)
                if pair is None:
                    raise OAError(EXPIRED_TOKEN, "no token pair stored")
                now = ch.clock.now()
                if pair.access != stale and not self._due(pair, now):
                    self._pair = pair  # someone refreshed meanwhile: the refresh token is used up
                    return pair.access
                new = await self._exchange(pair.refresh, now)
                await store.save_tokens(session, ch.keyring, self.account, new, now=now)
            self._pair = new
            log.info("zalo_oa %s: access token renewed", self.account)
            return new.access

    async def _exchange(self, refresh: str, now: datetime) -> store.TokenPair:
        ch = self.channel
        form = {"refresh_token": refresh, "app_id": self.account, "grant_type": "refresh_token"}
        try:
            async with ch.http.post(ch.config.oauth_url, data=form, headers={"secret_key": self.app_secret},
                                    timeout=aiohttp.ClientTimeout(total=20)) as resp:
                status, body = resp.status, await read_json(resp)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OAError(0, f"token refresh: {type(exc).__name__}") from None
        access, new_refresh = body.get("access_token"), body.get("refresh_token")
        if status != 200 or not access or not new_refresh:
            code = body.get("error") or status
            log.error("zalo_oa %s: the token refresh was refused (%s); the official account must be "
                      "authorised again", self.account, code)
            self.on_problem("token")
            raise OAError(int(code) if str(code).lstrip("-").isdigit() else status, "token refresh refused")
        for secret in (access, new_refresh):
            redact_also(secret)
        try:
            seconds = int(body.get("expires_in") or 0)  # Zalo sends it as a string
        except (TypeError, ValueError):
            seconds = 0
        return store.TokenPair(access, new_refresh, now + timedelta(seconds=seconds) if seconds else None)


class ZaloOAChannel(Channel):
    name = "zalo_oa"
    # Up to 5 buttons; several-choice toggles go out as a numbered list (see render below). Files:
    # what the upload API takes (PDF, DOC, DOCX; JPG and PNG as images), never a workbook.
    capabilities = Capabilities(buttons=MAX_BUTTONS, photos=True, files=True, file_types=UPLOAD_FILES + UPLOAD_IMAGES)
    per_account = True

    def __init__(self, *, app_id: str, app_secret: str, secret_key: str, config: ZaloOAConfig, inbox,
                 communes: tuple[str, ...], access_token: str = "", refresh_token: str = "") -> None:
        self.config = config
        self.inbox = inbox
        self.sessions, self.keyring, self.clock = inbox.sessions, inbox.keyring, inbox.clock
        self.communes = communes
        self.account = app_id
        self.secret_key = secret_key
        self.tokens = OATokens(self, app_secret=app_secret, seed_access=access_token, seed_refresh=refresh_token)
        self.http: aiohttp.ClientSession | None = None
        self.limiter = RateLimiter(rate=10, burst=10)
        self.transient = TransientRetries()
        self.on_release = lambda: None  # wired to the outbox's wake-up

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            await self.tokens.current()
        except OAError as exc:
            log.error("zalo_oa %s: %s", self.account, exc)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(webhook_path(c), self._webhook) for c in self.communes]

    # ---- receiving ----------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            data = json.loads(raw)
        except ValueError:
            return web.Response(status=400)
        if not isinstance(data, dict):
            return web.Response(status=400)
        expected = signature(self.account, raw, str(data.get("timestamp", "")), self.secret_key)
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not self.secret_key or not signature_matches(given, expected):
            log.warning("zalo_oa %s: a webhook call with a wrong signature was refused", self.account)
            return web.Response(status=403)
        if data.get("event_name") == "unfollow":
            await self.unfollowed(_person_of(data))
            return web.Response(status=200)
        event = await self.to_incoming(data)
        if event is not None:
            await self.interacted(event.user_id)  # first, so what was held goes out before the answer
            await self.inbox.put(event)
        return web.Response(status=200)

    async def unfollowed(self, user_id: str) -> None:
        """The OA cannot reach them now: their pushes go to their other channels (storage/people.py
        delivery_order), and the admins see it in `status`, until they follow again."""
        if not user_id:
            return
        async with self.sessions() as session, session.begin():
            identity = await mark_reachable(session, self.name, self.account, user_id, reachable=False,
                                            now=self.clock.now())
        log.info("zalo_oa %s: a follower left the official account%s", self.account,
                 "" if identity is None else " (an enrolled person: other channels take their pushes)")

    async def to_incoming(self, data: dict) -> Incoming | None:
        name = str(data.get("event_name") or "")
        user_id = _person_of(data)
        if not name.startswith("user_") and name != "follow" or not user_id:
            return None  # the OA's own messages, "seen" receipts; unfollow is handled apart
        if is_group_event(name):
            return None  # a group message: never answered, not even privately
        msg = data.get("message") or {}
        timestamp = str(data.get("timestamp") or "")
        common = dict(
            channel=self.name, account=self.account, user_id=user_id, chat_id=user_id,
            dedup_key=str(msg.get("msg_id") or f"{name}:{user_id}:{timestamp}"), sent_at=_from_ms(timestamp),
            display_name=str((data.get("sender") or {}).get("display_name") or ""),
        )
        attachment = (msg.get("attachments") or [{}])[0] or {}
        payload = attachment.get("payload") or {}
        if name == "follow":
            return Incoming(**common, kind="text", text="/start")  # greet, or ask for the invite code
        if name == "user_send_text":
            text = str(msg.get("text") or "")
            pressed = BUTTON_PAYLOAD.fullmatch(text.strip())
            if pressed:
                return Incoming(**common, kind="choice", choice=pressed.group(1))
            return Incoming(**common, kind="text", text=text)
        if name == "user_send_image":
            url = payload.get("url")  # fetched as soon as the update is stored (fetch_photo)
            return Incoming(**common, kind="photo", photo_ref=url if isinstance(url, str) else None,
                            text=msg.get("text") or None)
        if name == "user_send_location":
            where = payload.get("coordinates") or {}
            try:
                location = (float(where["latitude"]), float(where["longitude"]))
            except (KeyError, TypeError, ValueError):
                return Incoming(**common, kind="unsupported")
            return Incoming(**common, kind="location", location=location)
        if name == "user_send_sticker":
            return Incoming(**common, kind="sticker")
        if name in UNSUPPORTED or name.startswith("user_send_"):
            return Incoming(**common, kind="unsupported")
        return None

    async def interacted(self, user_id: str) -> None:
        """The person wrote: the window is open again for 7 days, and what was held goes out."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            identity = await session.scalar(select_identity(self.name, self.account, user_id))
            if identity is not None:
                identity.last_seen_at = now
                identity.unreachable_at = None  # a follow again, or a message: reachable again
            held = await store.release_held(session, channel=self.name, account=self.account, chat_id=user_id, now=now)
            for payload in held:
                reply = Reply.from_dict(json.loads(self.keyring.decrypt(payload)))
                outbox_store.queue_to_chat(
                    session, self.keyring, channel=self.name, account=self.account, chat_id=user_id,
                    person_id=identity.person_id if identity else None, reply=reply, now=now, kind="held",
                )
        if held:
            log.info("zalo_oa %s: %d held message(s) queued again", self.account, len(held))
            self.on_release()

    async def fetch_photo(self, url) -> bytes | None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return None
        try:
            async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=20)) as resp:
                if resp.status != 200:
                    return None
                data = await resp.content.read(MAX_PHOTO_BYTES + 1)
                return data if len(data) <= MAX_PHOTO_BYTES else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("zalo_oa %s: photo download failed: %s", self.account, type(exc).__name__)
            return None

    # ---- sending ------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        """Send the reply's messages, skipping the `done` first ones a previous attempt delivered:
        its text (with buttons), then its file and its photo, one message each."""
        if await self._window_closed(chat_id):
            return await self._hold(chat_id, reply)
        ids: list[str] = []
        for step in steps(reply)[done:]:
            await self.limiter.acquire()
            # what the 403s in a row are counted against: the message, or the file or photo sent
            key = step if isinstance(step, dict) else {step: reply.file[0] if step == "file" else len(reply.photo)}
            try:
                ids.append(await self._send_one(chat_id, step) if isinstance(step, dict)
                           else await self._attachment(chat_id, reply, step))
            except WindowClosed:
                self.transient.done(chat_id, key)
                return await self._hold(chat_id, reply)
            except OAError as exc:
                if exc.code == TRANSIENT:
                    return self._transient(chat_id, key, exc, ids)
                self.transient.done(chat_id, key)
                return Delivery(ok=False, permanent=exc.permanent, error=f"zalo_oa {exc}"[:200], platform_ids=ids)
            self.transient.done(chat_id, key)
        return Delivery(ok=True, platform_ids=ids)

    async def _attachment(self, chat_id: str, reply: Reply, kind: str) -> str:
        """The reply's file or photo, uploaded and sent; its link in words where that fails."""
        try:
            if kind == "file":
                name, data = reply.file
                mime = file_type(name, data)
                if mime not in UPLOAD_FILES or len(data) > MAX_UPLOAD_FILE:
                    raise OAError(-1, f"{name.rsplit('.', 1)[-1]} of {len(data)} bytes cannot be uploaded to an "
                                      "official account (PDF, DOC or DOCX up to 5 MB)", permanent=True)
                token = await self._upload("file", name, mime, data)
                message = {"attachment": {"type": "file", "payload": {"token": token}}}
            else:
                data, mime = fit_image(reply.photo)
                token = await self._upload("image", "image.png" if mime == PNG else "image.jpg", mime, data)
                message = {"attachment": {"type": "template", "payload": {
                    "template_type": "media", "elements": [{"media_type": "image", "attachment_id": token}]}}}
            return await self._send_one(chat_id, message)
        except OAError as exc:
            if not reply.instead:
                raise
            log.warning("zalo_oa %s: a %s could not go into the chat (%s); its link is sent instead", self.account,
                        kind, exc)
            return await self._send_one(chat_id, {"text": reply.instead[:MAX_TEXT]})

    async def _upload(self, kind: str, name: str, mime: str, data: bytes) -> str:
        """POST the bytes to /v2.0/oa/upload/{file,image}: the token or attachment id it answers."""
        def form() -> dict:
            body = aiohttp.FormData()
            body.add_field("file", data, filename=name, content_type=mime)
            return {"data": body}

        status, answer = await self._post(f"/v2.0/oa/upload/{kind}", form)
        error = answer.get("error")
        if status != 200 or error != 0:
            code = error if isinstance(error, int) and error else status
            raise OAError(code, f"{kind} upload refused: {answer.get('message') or f'HTTP {status}'}"[:120],
                          permanent=code not in RETRYABLE and code != TRANSIENT)
        got = answer.get("data") or {}
        ref = got.get("token") or got.get("attachment_id")  # a file answers token (or attachment_id), an image the id
        if not ref:
            raise OAError(-1, f"{kind} upload answered no token")
        return str(ref)

    def _transient(self, chat_id: str, message: dict, exc: OAError, ids: list[str]) -> Delivery:
        """403, Zalo's internal server error: tried again after 5, 15 and 30 s, then given up."""
        return self.transient.delivery("zalo_oa", self.account, chat_id, message, f"zalo_oa {exc}", ids)

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery:
        return Delivery(ok=True)  # never called: can_edit is False

    async def _window_closed(self, chat_id: str) -> bool:
        async with self.sessions() as session:
            seen = await store.last_seen(session, self.name, self.account, chat_id)
        return seen is not None and self.clock.now() - seen > WINDOW

    async def _hold(self, chat_id: str, reply: Reply) -> Delivery:
        payload = self.keyring.encrypt(json.dumps(reply.to_dict(), ensure_ascii=False).encode())
        async with self.sessions() as session, session.begin():
            store.hold(session, channel=self.name, account=self.account, chat_id=chat_id, payload=payload,
                       now=self.clock.now())
        log.warning("zalo_oa %s: a person's 7-day window is closed; the message is kept until they write again "
                    "and their other channels are tried", self.account)
        return Delivery(ok=False, permanent=True,
                        error="zalo_oa: outside the 7-day window (-230); kept until the person writes again")

    async def _post(self, path: str, request) -> tuple[int, dict]:
        """POST to the OA API with the access token, refreshed once and tried again once when it is
        refused as expired; `request()` gives the body each time (a multipart form is read once)."""
        token = await self.tokens.current()
        for attempt in (1, 2):
            try:
                async with self.http.post(f"{self.config.api_url}{path}", headers={"access_token": token},
                                          **request()) as resp:
                    status, data = resp.status, await read_json(resp)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise OAError(0, type(exc).__name__) from None
            if status == 401 or data.get("error") == EXPIRED_TOKEN:
                if attempt == 1:
                    token = await self.tokens.refresh(token)  # refresh once, retry once
                    continue
                raise OAError(EXPIRED_TOKEN, "access token refused after a refresh")
            return status, data
        raise AssertionError("unreachable")

    async def _send_one(self, chat_id: str, message: dict) -> str:
        body = {"recipient": {"user_id": chat_id}, "message": message}
        status, data = await self._post("/v3.0/oa/message/cs", lambda: {"json": body})
        error = data.get("error")
        if status == TRANSIENT or error == TRANSIENT:
            raise OAError(TRANSIENT, str(data.get("message") or "internal server error")[:120])
        if status != 200:
            raise OAError(status, f"HTTP {status}", permanent=400 <= status < 500 and status != 429)
        if error == 0:
            return str((data.get("data") or {}).get("message_id", ""))
        if error == WINDOW_CLOSED:
            raise WindowClosed()
        code = int(error) if isinstance(error, int) else -1
        raise OAError(code, str(data.get("message") or "")[:120], permanent=code not in RETRYABLE)


def _person_of(data: dict) -> str:
    """Who an event is about: `follow` and `unfollow` name the person as `follower.id` and have no
    `sender`; every other event has `sender.id`."""
    who = data.get("follower") if data.get("event_name") in ("follow", "unfollow") else data.get("sender")
    return str(who.get("id") or "") if isinstance(who, dict) else ""


def select_identity(channel: str, account: str, user_id: str):
    return select(Identity).where(Identity.channel == channel, Identity.account == account,
                                  Identity.external_id == user_id)


def render(reply: Reply) -> list[dict]:
    """The reply as OA messages: up to 5 choices as buttons (options first when there are more),
    the rest as text; toggles (several choices) as a numbered list to answer "1 3"."""
    choices = list(reply.choices)
    options = [c for c in choices if not c.control]
    toggles = any(c.selected is not None for c in choices)
    first = 1
    if choices and not toggles and len(choices) <= MAX_BUTTONS:
        buttons, rest = choices, replace(reply, choices=())
    elif options and not toggles and len(options) <= MAX_BUTTONS:
        # the options are buttons; the actions go on counting after them, as the chat's list does
        buttons, rest = options, replace(reply, choices=tuple(c for c in choices if c.control))
        first = len(options) + 1
    else:
        buttons, rest = [], reply
    text = render_plain(rest, first)
    messages = [{"text": part} for part in split_text(text, MAX_TEXT, utf16_len)] or [{"text": "…"}]
    if buttons:
        messages[-1]["attachment"] = {"type": "template", "payload": {"buttons": [_button(c) for c in buttons]}}
    return messages


def steps(reply: Reply) -> list[dict | str]:
    """What the reply sends, one message each: its text messages (render), then "file" and "photo"
    (uploaded, or their links in words). A reply of a file or a photo alone has no text message."""
    attachments = [kind for kind, there in (("file", reply.file), ("photo", reply.photo)) if there]
    if attachments and not reply.text.strip() and not reply.choices:
        return attachments
    return [*render(reply), *attachments]


def file_type(name: str, data: bytes) -> str | None:
    """The upload type of a file, by its bytes (and, for the Office formats, its name): PDF, DOC,
    DOCX; None for anything else (an .xlsx is a zip too, but holds no word/document.xml)."""
    lower = name.lower()
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") and lower.endswith(".doc"):
        return DOC
    if data.startswith(b"PK\x03\x04") and lower.endswith(".docx"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return DOCX if "word/document.xml" in z.namelist() else None
        except zipfile.BadZipFile:
            return None
    return None


def image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def fit_image(data: bytes, limit: int = MAX_UPLOAD_IMAGE) -> tuple[bytes, str]:
    """A JPG or PNG of at most `limit` bytes: the photo as it is when it fits; else PNG with a
    palette (a chart's few colours lose nothing), else JPEG, smaller each time, down to 640 px;
    OAError when even that does not fit or the bytes are no image."""
    kind = image_type(data)
    if kind is not None and len(data) <= limit:
        return data, kind
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise OAError(-1, f"the photo is not an image the official account takes ({type(exc).__name__})",
                      permanent=True) from None
    rgb = image.convert("RGB")
    out = io.BytesIO()
    rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(out, format="PNG")
    if out.tell() <= limit:
        return out.getvalue(), PNG
    scale = 1.0
    while max(rgb.size) * scale >= 640:
        size = (max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale)))
        out = io.BytesIO()
        rgb.resize(size, Image.Resampling.LANCZOS).save(out, format="JPEG", quality=85)
        if out.tell() <= limit:
            return out.getvalue(), JPEG
        scale *= 0.75
    raise OAError(-1, f"the photo does not fit the official account's {limit // 1024} KB", permanent=True)


def _button(choice: Choice) -> dict:
    return {"title": choice.label[:MAX_TITLE], "type": "oa.query.hide", "payload": "#" + choice.data}


async def read_json(resp: aiohttp.ClientResponse) -> dict:
    try:
        data = json.loads(await resp.read())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _from_ms(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
