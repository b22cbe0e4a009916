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
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import secrets
import time
import traceback
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_TITLE = 100
WINDOW_SECONDS = 7 * 24 * 3600


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class OAMessage:
    user_id: str
    text: str
    buttons: list[dict]
    message_id: str
    seq: int

    @property
    def titles(self) -> list[str]:
        return [b["title"] for b in self.buttons]


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
    webhook_url: str = ""

    def __post_init__(self) -> None:
        self.offset = 0.0  # seconds added to the real clock
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._access: dict[str, float] = {}  # token -> expiry (emulator time)
        self._refresh: set[str] = set()
        self._media: dict[str, bytes] = {}
        self.users: dict[str, str] = {}
        self.unfollowed: set[str] = set()  # users who left the OA: a message to them is refused (-213)
        self.last_interaction: dict[str, float] = {}
        self._403: list[str] = []  # how the next sends fail with 403: "body" or "http", one each
        self.send_attempts = 0
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, days: float = 0, seconds: float = 0) -> None:
        self.offset += days * 86400 + seconds

    # ---- server -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._guard(self._send))
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
        return web.Response(status=404) if data is None else web.Response(body=data, content_type="image/jpeg")

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
        text = message.get("text")
        if not isinstance(text, str) or not 1 <= utf16_len(text) <= MAX_TEXT:
            return self._refuse(-201, "message.text is invalid: 1-2000 characters")
        buttons = []
        if "attachment" in message:
            att = message["attachment"]
            buttons = ((att or {}).get("payload") or {}).get("buttons") or []
            if att.get("type") != "template" or not 1 <= len(buttons) <= MAX_BUTTONS:
                return self._refuse(-201, "attachment is invalid: a template with 1-5 buttons")
            for b in buttons:
                if (not isinstance(b.get("title"), str) or not 1 <= len(b["title"]) <= MAX_TITLE
                        or b.get("type") != "oa.query.hide" or not isinstance(b.get("payload"), str)):
                    return self._refuse(-201, "button is invalid")
        sent = OAMessage(user_id, text, buttons, f"oa{next(self._ids)}", next(self._seq))
        self.sent.append(sent)
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": sent.message_id, "user_id": user_id}})

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
