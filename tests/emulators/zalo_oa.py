"""A strict, in-process emulator of a Zalo Official Account (OA API v3 + OAuth v4) over real HTTP
on 127.0.0.1, for end-to-end tests, behaving as ../shared/PLATFORMS.md says. Switches for the
disputed behaviours:

- `expired_as`: an expired access token answers {"error": -216} with HTTP 200 ("error") or HTTP
  401 ("http");
- `single_use_refresh`: a refresh token works once (True) or until the next one is issued (False);
- `enforce_window`: messages to a person who has not interacted for 7 days fail with -230;
- `body_style`: webhook bodies are sent "compact" or "spaced" (indented, ASCII-escaped), so a bot
  that re-serialises the JSON instead of hashing the raw bytes fails the signature;
- `signature_style`: the signature header is sent "mac" ("mac=" + hex, as documented) or "bare"
  (the hex alone, as some deliveries are reported to carry it).

The webhook signature is X-ZEvent-Signature = "mac=" + sha256_hex(app_id + raw body + timestamp +
OA secret key). Button clicks come back as user_send_text carrying the button's payload. Group
messages (the paid GMF product) arrive as user_send_group_* with the group as `recipient.id`.
`internal_errors_403(n)` makes the next n sends answer 403, Zalo's "internal server error" (in a
200 body, or as the HTTP status), before sending succeeds again.

Uploads, strict as PLATFORMS.md says: /v2.0/oa/upload/file takes PDF, DOC and DOCX up to 5 MB and
answers `data.token`; /v2.0/oa/upload/image takes JPG and PNG up to 1 MB and answers
`data.attachment_id`, kept 7 days. The type is read from the bytes (an .xlsx is a zip without
word/document.xml), and a declared content type that says otherwise is refused too. A refusal is
HTTP 200 with a non-zero `error`, as Zalo answers. A token or attachment id serves one purpose (a
file's token in a file message, an image's id in a media template) and must exist, unexpired, when
a message names it. `refuse_uploads(n)` refuses the next n uploads whatever they hold. Every upload
tried is in `uploads`; an attachment message arrives in `sent` with the uploaded bytes.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import itertools
import json
import secrets
import time
import traceback
import zipfile
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_TITLE = 100
WINDOW_SECONDS = 7 * 24 * 3600
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_BYTES = 1024 * 1024
IMAGE_KEPT_SECONDS = 7 * 24 * 3600
PDF, DOC = "application/pdf", "application/msword"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
JPEG, PNG = "image/jpeg", "image/png"
UNTYPED = ("", "application/octet-stream")  # a part sent without a type of its own
UPLOAD_REFUSED = -210  # the emulator's code for a refused upload: the bot must treat any non-zero as a refusal


def sniff(data: bytes) -> str | None:
    """What the bytes are, whatever the file is called."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return DOC
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return None
        return DOCX if "word/document.xml" in names else "application/zip"  # an .xlsx holds xl/, not word/
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class OAMessage:
    user_id: str
    text: str
    buttons: list[dict]
    message_id: str
    seq: int
    kind: str = "text"  # "text", "file" (an uploaded file) or "image" (a media template)
    data: bytes | None = None  # the uploaded bytes a file or image message shows
    name: str = ""  # the uploaded file's name
    mime: str = ""

    @property
    def titles(self) -> list[str]:
        return [b["title"] for b in self.buttons]


@dataclass
class Upload:
    """One upload tried, accepted or not."""

    endpoint: str  # "file" or "image"
    name: str
    declared: str  # the content type the part was sent with
    sniffed: str | None  # what its bytes are
    size: int
    error: int  # 0: accepted
    data: bytes = b""


@dataclass
class Stored:
    purpose: str  # "file" or "image"
    data: bytes
    name: str
    mime: str
    expires: float | None  # emulator time; None: kept


@dataclass
class ZaloOAEmulator:
    app_id: str = "1357924680"
    app_secret: str = "oa-app-secret-9f8e7d6c5b"
    secret_key: str = "oa-webhook-key-1a2b3c4d5e"
    expired_as: str = "error"  # or "http"
    single_use_refresh: bool = True
    enforce_window: bool = True
    body_style: str = "compact"  # or "spaced"
    signature_style: str = "mac"  # or "bare"
    access_ttl: int = 90000  # seconds, as Zalo's "expires_in"
    refresh_delay: float = 0.0  # seconds the OAuth server takes to answer (widens races in tests)
    sent: list[OAMessage] = field(default_factory=list)
    refreshes: int = 0
    refused_refreshes: int = 0
    refused_sends: list[int] = field(default_factory=list)
    events_made: list[dict] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    webhook_url: str = ""

    def __post_init__(self) -> None:
        self.offset = 0.0  # seconds added to the real clock
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._access: dict[str, float] = {}  # token -> expiry (emulator time)
        self._refresh: set[str] = set()
        self._media: dict[str, bytes] = {}
        self.media_downloads = 0
        self.media_held: asyncio.Event | None = None  # set to an Event: downloads wait until it is set
        self.users: dict[str, str] = {}
        self.unfollowed: set[str] = set()  # users who left the OA: a message to them is refused (-213)
        self.last_interaction: dict[str, float] = {}
        self._403: list[str] = []  # how the next sends fail with 403: "body" or "http", one each
        self._stored: dict[str, Stored] = {}  # upload token or attachment id -> what was uploaded
        self._refuse_uploads = 0
        self.send_attempts = 0
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, days: float = 0, seconds: float = 0) -> None:
        self.offset += days * 86400 + seconds

    # ---- server -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)  # sizes are judged below, as Zalo does
        app.router.add_post("/v3.0/oa/message/cs", self._guard(self._send))
        app.router.add_post("/v2.0/oa/upload/file", self._guard(self._upload_file))
        app.router.add_post("/v2.0/oa/upload/image", self._guard(self._upload_image))
        app.router.add_post("/v4/oa/access_token", self._guard(self._oauth))
        app.router.add_get("/media/{name}", self._media_file)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def oauth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v4/oa/access_token"

    def _guard(self, handler):
        async def run(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except Exception:  # noqa: BLE001 - an emulator bug fails the test
                self.internal_errors.append(traceback.format_exc())
                return web.json_response({"error": -500, "message": "emulator error"}, status=500)

        return run

    async def _media_file(self, request: web.Request) -> web.Response:
        data = self._media.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        self.media_downloads += 1
        if self.media_held is not None:
            await self.media_held.wait()
        return web.Response(body=data, content_type="image/jpeg")

    # ---- tokens -------------------------------------------------------------------------------

    def issue_pair(self) -> tuple[str, str]:
        access, refresh = "acc-" + secrets.token_urlsafe(24), "ref-" + secrets.token_urlsafe(24)
        self._access[access] = self.now() + self.access_ttl
        self._refresh.add(refresh)
        return access, refresh

    def expire_access_tokens(self) -> None:
        for token in self._access:
            self._access[token] = self.now() - 1

    def _valid(self, token: str) -> bool:
        return self._access.get(token, 0) > self.now()

    async def _oauth(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
            return web.json_response({"error": -14002, "error_name": "Invalid app", "error_description": "bad app"})
        if form.get("grant_type") != "refresh_token":
            return web.json_response({"error": -14003, "error_name": "Invalid grant type"})
        await asyncio.sleep(self.refresh_delay)
        token = str(form.get("refresh_token") or "")
        if token not in self._refresh:
            self.refused_refreshes += 1
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token",
                                      "error_description": "Refresh token is invalid or used"})
        if self.single_use_refresh:
            self._refresh.discard(token)
        else:
            self._refresh = {token}  # usable until the next one is issued
        self.refreshes += 1
        access, refresh = self.issue_pair()
        return web.json_response({"access_token": access, "refresh_token": refresh,
                                  "expires_in": str(self.access_ttl)})

    # ---- sending ------------------------------------------------------------------------------

    def _refuse(self, code: int, message: str) -> web.Response:
        self.refused_sends.append(code)
        return web.json_response({"error": code, "message": message})

    def internal_errors_403(self, times: int, as_: str = "body") -> None:
        """The next `times` sends answer 403 "internal server error": error 403 in an HTTP 200 body
        ("body"), or HTTP 403 ("http"); then sending works again."""
        assert as_ in ("body", "http")
        self._403.extend([as_] * times)

    async def _send(self, request: web.Request) -> web.Response:
        self.send_attempts += 1
        if not self._valid(request.headers.get("access_token", "")):
            self.refused_sends.append(-216)
            return web.json_response({"error": -216, "message": "Access token is invalid"},
                                     status=401 if self.expired_as == "http" else 200)
        if self._403:
            self.refused_sends.append(403)
            return web.json_response({"error": 403, "message": "Internal server error"},
                                     status=403 if self._403.pop(0) == "http" else 200)
        body = await request.json()
        user_id = str((body.get("recipient") or {}).get("user_id") or "")
        if user_id not in self.users or user_id in self.unfollowed:
            return self._refuse(-213, "User has not followed the OA")
        if self.enforce_window and self.now() - self.last_interaction.get(user_id, 0) > WINDOW_SECONDS:
            return self._refuse(-230, "User has not interacted with the OA in the last 7 days")
        message = body.get("message") or {}
        att = message.get("attachment") if "attachment" in message else None
        payload = (att.get("payload") or {}) if isinstance(att, dict) else {}
        if isinstance(att, dict) and att.get("type") == "file":
            return self._file_message(user_id, message, payload)
        if isinstance(att, dict) and att.get("type") == "template" and payload.get("template_type") == "media":
            return self._media_message(user_id, message, payload)
        text = message.get("text")
        if not isinstance(text, str) or not 1 <= utf16_len(text) <= MAX_TEXT:
            return self._refuse(-201, "message.text is invalid: 1-2000 characters")
        buttons = []
        if att is not None:
            buttons = payload.get("buttons") or []
            if not isinstance(att, dict) or att.get("type") != "template" or not 1 <= len(buttons) <= MAX_BUTTONS:
                return self._refuse(-201, "attachment is invalid: a template with 1-5 buttons")
            for b in buttons:
                if (not isinstance(b.get("title"), str) or not 1 <= len(b["title"]) <= MAX_TITLE
                        or b.get("type") != "oa.query.hide" or not isinstance(b.get("payload"), str)):
                    return self._refuse(-201, "button is invalid")
        return self._record(OAMessage(user_id, text, buttons, f"oa{next(self._ids)}", next(self._seq)))

    def _record(self, sent: OAMessage) -> web.Response:
        self.sent.append(sent)
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": sent.message_id, "user_id": sent.user_id}})

    def _stored_for(self, ref, purpose: str) -> Stored | None:
        stored = self._stored.get(str(ref or ""))
        if stored is None or stored.purpose != purpose:
            return None
        if stored.expires is not None and stored.expires <= self.now():
            return None
        return stored

    def _file_message(self, user_id: str, message: dict, payload: dict) -> web.Response:
        """{"attachment": {"type": "file", "payload": {"token": <a file upload's token>}}}, no text."""
        if "text" in message:
            return self._refuse(-201, "a file message carries no text")
        stored = self._stored_for(payload.get("token"), "file")
        if stored is None:
            return self._refuse(-201, "attachment.payload.token is invalid: upload the file first")
        return self._record(OAMessage(user_id, "", [], f"oa{next(self._ids)}", next(self._seq), kind="file",
                                      data=stored.data, name=stored.name, mime=stored.mime))

    def _media_message(self, user_id: str, message: dict, payload: dict) -> web.Response:
        """The media template: one image element, by an uploaded image's attachment_id (or a URL);
        the text beside it is optional."""
        text = message.get("text")
        if text is not None and (not isinstance(text, str) or not 1 <= utf16_len(text) <= MAX_TEXT):
            return self._refuse(-201, "message.text is invalid: 1-2000 characters")
        elements = payload.get("elements")
        if not isinstance(elements, list) or len(elements) != 1 or not isinstance(elements[0], dict):
            return self._refuse(-201, "a media template has one element")
        element = elements[0]
        if element.get("media_type") != "image":
            return self._refuse(-201, "elements[0].media_type must be image")
        if "attachment_id" in element:
            stored = self._stored_for(element["attachment_id"], "image")
            if stored is None:
                return self._refuse(-201, "elements[0].attachment_id is invalid or expired: upload the image")
            data, mime = stored.data, stored.mime
        elif str(element.get("url") or "").startswith(("http://", "https://")):
            data, mime = None, ""
        else:
            return self._refuse(-201, "elements[0] needs an attachment_id or a url")
        return self._record(OAMessage(user_id, text or "", [], f"oa{next(self._ids)}", next(self._seq), kind="image",
                                      data=data, mime=mime))

    # ---- uploads ------------------------------------------------------------------------------

    def refuse_uploads(self, times: int) -> None:
        """The next `times` uploads are refused (HTTP 200, error -210), whatever they hold."""
        self._refuse_uploads += times

    async def _upload_file(self, request: web.Request) -> web.Response:
        return await self._upload(request, "file", (PDF, DOC, DOCX), MAX_FILE_BYTES)

    async def _upload_image(self, request: web.Request) -> web.Response:
        return await self._upload(request, "image", (JPEG, PNG), MAX_IMAGE_BYTES)

    async def _upload(self, request: web.Request, endpoint: str, types: tuple[str, ...], limit: int) -> web.Response:
        if not self._valid(request.headers.get("access_token", "")):
            return web.json_response({"error": -216, "message": "Access token is invalid"},
                                     status=401 if self.expired_as == "http" else 200)
        if not request.content_type.startswith("multipart/"):
            return web.json_response({"error": -201, "message": "the upload must be multipart/form-data"})
        form = await request.post()
        part = form.get("file")
        if not isinstance(part, web.FileField):
            return web.json_response({"error": -201, "message": "the multipart field `file` is missing"})
        data = part.file.read()
        declared = (part.content_type or "").split(";")[0].strip().lower()
        sniffed = sniff(data)
        upload = Upload(endpoint, part.filename or "", declared, sniffed, len(data), 0, data)
        self.uploads.append(upload)
        if self._refuse_uploads:
            self._refuse_uploads -= 1
            upload.error = UPLOAD_REFUSED
            return web.json_response({"error": UPLOAD_REFUSED, "message": "Upload failed"})
        if sniffed not in types or (declared not in UNTYPED and declared not in types):
            upload.error = UPLOAD_REFUSED
            kinds = "PDF, DOC or DOCX" if endpoint == "file" else "JPG or PNG"
            return web.json_response({"error": UPLOAD_REFUSED, "message": f"File type is not supported: {kinds} only"})
        if len(data) > limit:
            upload.error = UPLOAD_REFUSED
            return web.json_response({"error": UPLOAD_REFUSED,
                                      "message": f"File size exceeds the limit of {limit // (1024 * 1024)} MB"})
        ref = secrets.token_hex(12)
        kept = self.now() + IMAGE_KEPT_SECONDS if endpoint == "image" else None
        self._stored[ref] = Stored(endpoint, data, part.filename or "", sniffed, kept)
        if endpoint == "file":
            return web.json_response({"error": 0, "message": "Success", "data": {"token": ref}})
        return web.json_response({"error": 0, "message": "Success", "data": {"attachment_id": ref}})

    # ---- people -------------------------------------------------------------------------------

    def user(self, user_id: str, name: str) -> None:
        self.users[user_id] = name

    def messages(self, user_id: str) -> list[OAMessage]:
        return [m for m in self.sent if m.user_id == user_id]

    def mark(self) -> int:
        return max((m.seq for m in self.sent), default=0)

    def _event(self, user_id: str, name: str, message: dict | None = None) -> dict:
        event = {
            "app_id": self.app_id, "user_id_by_app": f"app-{user_id}", "event_name": name,
            "timestamp": str(int(self.now() * 1000)),
            "sender": {"id": user_id}, "recipient": {"id": "oa-4321"},
        }
        if message is not None:
            event["message"] = {"msg_id": f"msg{next(self._ids)}", **message}
        self.events_made.append(event)
        return event

    async def follow(self, user_id: str) -> dict:
        """The live shape: the person is `follower.id`; there is no `sender` and no `message`."""
        self.unfollowed.discard(user_id)
        return await self._emit(self._follow_event(user_id, "follow"))

    async def unfollow(self, user_id: str) -> dict:
        self.unfollowed.add(user_id)
        return await self._emit(self._follow_event(user_id, "unfollow"))

    def _follow_event(self, user_id: str, name: str) -> dict:
        event = {"app_id": self.app_id, "oa_id": "oa-4321", "user_id_by_app": f"app-{user_id}", "event_name": name,
                 "timestamp": str(int(self.now() * 1000)), "source": "oa_profile", "follower": {"id": user_id}}
        self.events_made.append(event)
        return event

    async def send_text(self, user_id: str, text: str) -> dict:
        return await self._emit(self._event(user_id, "user_send_text", {"text": text}))

    async def press(self, user_id: str, title: str) -> dict:
        """A click on the newest button with that title: Zalo sends its payload as the person's text."""
        for message in reversed(self.messages(user_id)):
            for button in message.buttons:
                if button["title"] == title:
                    return await self.send_text(user_id, button["payload"])
        raise AssertionError(f"no button {title!r} in the messages to {user_id}")

    async def send_image(self, user_id: str, data: bytes) -> dict:
        name = f"i{next(self._ids)}.jpg"
        self._media[name] = data
        url = f"http://127.0.0.1:{self.port}/media/{name}"
        return await self._emit(self._event(user_id, "user_send_image", {
            "text": "", "attachments": [{"type": "image", "payload": {"url": url, "thumbnail": url}}]}))

    async def send_location(self, user_id: str, latitude: float, longitude: float) -> dict:
        return await self._emit(self._event(user_id, "user_send_location", {"attachments": [
            {"type": "location", "payload": {"coordinates": {"latitude": str(latitude), "longitude": str(longitude)}}}]}))

    async def send_group_text(self, user_id: str, group_id: str, text: str) -> dict:
        """A member writes in a group the OA is in: the group is the recipient, the person the sender."""
        event = self._event(user_id, "user_send_group_text", {"text": text})
        event["recipient"] = {"id": group_id}
        return await self._emit(event)

    async def send_file(self, user_id: str) -> dict:
        return await self._emit(self._event(user_id, "user_send_file", {"attachments": [
            {"type": "file", "payload": {"url": "https://example.invalid/f.pdf", "name": "f.pdf"}}]}))

    async def _emit(self, event: dict) -> dict:
        await self.deliver(event)
        return event

    def encode(self, event: dict) -> bytes:
        if self.body_style == "spaced":
            return json.dumps(event, indent=2, ensure_ascii=True).encode()
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()

    def sign(self, raw: bytes, timestamp: str, key: str | None = None, style: str | None = None) -> str:
        key = self.secret_key if key is None else key
        digest = hashlib.sha256(self.app_id.encode() + raw + timestamp.encode() + key.encode()).hexdigest()
        return ("" if (style or self.signature_style) == "bare" else "mac=") + digest

    async def deliver(self, event: dict, *, raw: bytes | None = None, signature: str | None = None) -> int:
        """POST the event to the webhook, signed over the exact bytes sent; its HTTP status."""
        if event["event_name"].startswith("user_") and "_group_" not in event["event_name"]:
            self.last_interaction[event["sender"]["id"]] = self.now()
        elif event["event_name"] == "follow":
            self.last_interaction[event["follower"]["id"]] = self.now()
        raw = self.encode(event) if raw is None else raw
        signature = self.sign(raw, event["timestamp"]) if signature is None else signature
        headers = {"Content-Type": "application/json", "User-Agent": "ZaloWebhook/3.0"}
        if signature:
            headers["X-ZEvent-Signature"] = signature
        async with self._client.post(self.webhook_url, data=raw, headers=headers) as resp:
            self.last_status = resp.status
            return resp.status

    async def deliver_again(self, event: dict) -> int:
        return await self.deliver(copy.deepcopy(event))
