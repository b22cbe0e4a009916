"""A strict, in-process emulator of the Zalo Bot API (bot-api.zaloplatforms.com) over real HTTP on
127.0.0.1, for end-to-end tests. It behaves as ../shared/PLATFORMS.md says, and each disputed
behaviour has a switch so the bot is tested against every variant:

- `idle`: an empty long poll answers HTTP 408 ("http") or HTTP 200 with ok:false and
  error_code 408 ("body");
- `photo_field`: image updates carry the URL in "photo_url" (live payloads) or "photo" (docs);
- `webhook_body`: webhook bodies are "flat" (live) or "wrapped" in {"ok": true, "result": ...}.

Strict where Zalo is: every reply is {ok, result?, description?, error_code?}; getUpdates returns
ONE update and has no offset; texts are 1–2000 characters (UTF-16 units, as Java counts); the
secret_token of setWebhook is 8–256 characters and the URL must be https; polling while a webhook
is set receives nothing; past the monthly quota sendMessage answers 429 "Quota exceeded". Tests
inject failures with `fail_next`, including a 200 with ok:false, and `internal_errors_403` for
Zalo's 403 "internal server error". `post_empty` sends a webhook call with no body (the secret
right), and `send_group_text` a message in a group chat (chat_type "GROUP", "coming soon" in the
docs).

sendPhoto takes `photo` as an http(s) URL only, and (`fetch_photos`, on by default, as Zalo does)
fetches it at once, through `resolve`, answering 400 unless it gets a JPG or PNG back: the image
arrives in `sent` with its bytes.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
import traceback
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

MAX_TEXT = 2000
SECRET_HEADER = "X-Bot-Api-Secret-Token"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    def __init__(self, code: int, description: str, http_status: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description = code, description
        self.http_status = http_status if http_status is not None else code


@dataclass
class SentMessage:
    chat_id: str
    text: str
    message_id: str
    seq: int
    photo: bytes | None = None  # sendPhoto: the image fetched from its URL
    photo_url: str = ""


@dataclass
class Failure:
    http_status: int
    error_code: int
    description: str


@dataclass
class ZaloBotEmulator:
    token: str
    bot_id: str = "4242"
    idle: str = "http"  # "http": HTTP 408; "body": HTTP 200 with ok:false, error_code 408
    photo_field: str = "photo_url"  # or "photo"
    webhook_body: str = "flat"  # or "wrapped"
    quota: int = 3000  # outgoing messages a month
    max_poll_seconds: float = 2.0  # a long poll is cut short here, so tests stay quick
    fetch_photos: bool = True  # sendPhoto fetches the URL and checks it is an image
    sent: list[SentMessage] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    webhook: dict | None = None
    updates_made: list[dict] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    polls_while_webhook: int = 0
    idle_polls: int = 0
    refused_429: int = 0

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue = asyncio.Queue()
        self._fail: dict[str, list[Failure]] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._media: dict[str, bytes] = {}
        self.media_downloads = 0
        self.media_held: asyncio.Event | None = None  # set to an Event: downloads wait until it is set
        self.users: dict[str, str] = {}
        self.resolve = lambda url: url  # maps the public webhook URL to where the bot listens
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # ---- server -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
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
        return f"http://127.0.0.1:{self.port}/bot"

    def fail_next(self, method: str, http_status: int, error_code: int | None = None, description: str = "", *,
                  after: int = 0) -> None:
        """A call of `method` (the next one, or the one after `after` that succeed) fails like this;
        http_status 200 with ok:false included."""
        self._fail.setdefault(method.lower(), []).append(
            [after, Failure(http_status, error_code if error_code is not None else http_status, description or "Error")])

    def internal_errors_403(self, times: int, method: str = "sendMessage", as_: str = "http") -> None:
        """The next `times` calls of `method` answer 403 "Internal server error": as the HTTP status
        ("http") or as error_code 403 in an HTTP 200 body with ok:false ("body")."""
        assert as_ in ("http", "body")
        for _ in range(times):
            self.fail_next(method, 403 if as_ == "http" else 200, 403, "Internal server error")

    async def _params(self, request: web.Request) -> dict:
        params = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            kind = request.content_type
            if kind == "application/json":
                params.update(await request.json())
            elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
                params.update({k: v for k, v in (await request.post()).items()})
            else:
                raise ApiError(400, f"Bad Request: unsupported content type {kind}")
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        key = method.lower()
        self.calls[method] = self.calls.get(method, 0) + 1
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await self._params(request)
            failures = self._fail.get(key)
            if failures and failures[0][0] > 0:
                failures[0][0] -= 1
            elif failures and key != "getupdates":
                f = failures.pop(0)[1]
                return web.json_response({"ok": False, "error_code": f.error_code, "description": f.description},
                                         status=f.http_status)
            handler = getattr(self, f"_m_{key}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method does not exist")
            result = await handler(params)
            return web.json_response({"ok": True, "result": result})
        except ApiError as exc:
            return web.json_response({"ok": False, "error_code": exc.code, "description": exc.description},
                                     status=exc.http_status)
        except Exception:  # noqa: BLE001 - a bug in the emulator: fail the test, not silently
            self.internal_errors.append(traceback.format_exc())
            return web.json_response({"ok": False, "error_code": 500, "description": "emulator error"}, status=500)

    async def _media_file(self, request: web.Request) -> web.Response:
        data = self._media.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        self.media_downloads += 1
        if self.media_held is not None:
            await self.media_held.wait()
        return web.Response(body=data, content_type="image/jpeg")

    # ---- methods ------------------------------------------------------------------------------

    async def _m_getme(self, params: dict) -> dict:
        return {"id": self.bot_id, "account_name": "xuanduong_bot", "account_type": "BASIC",
                "can_join_groups": False}

    async def _m_getupdates(self, params: dict) -> dict:
        try:
            timeout = float(params.get("timeout", 30))
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: timeout must be a number") from None
        wait = min(timeout, self.max_poll_seconds)
        if self.webhook is not None:  # Zalo delivers to the webhook: a poller gets nothing
            self.polls_while_webhook += 1
            await asyncio.sleep(wait)
            raise self._idle_error()
        try:
            return await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            self.idle_polls += 1
            raise self._idle_error() from None

    def _idle_error(self) -> ApiError:
        return ApiError(408, "Request timeout", http_status=408 if self.idle == "http" else 200)

    async def _m_setwebhook(self, params: dict) -> dict:
        url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
        if not url.startswith("https://"):
            raise ApiError(400, "Bad Request: url must be https")
        if not 8 <= len(secret) <= 256:
            raise ApiError(400, "Bad Request: secret_token must be 8-256 characters")
        self.webhook = {"url": url, "secret_token": secret}
        return {"url": url, "updated_at": int(time.time() * 1000)}

    async def _m_deletewebhook(self, params: dict) -> dict:
        self.webhook = None
        return {"url": "", "updated_at": int(time.time() * 1000)}

    async def _m_getwebhookinfo(self, params: dict) -> dict:
        if self.webhook is None:
            raise ApiError(404, "Not Found: webhook is not set")
        return {"url": self.webhook["url"], "updated_at": int(time.time() * 1000)}

    def _chat(self, params: dict) -> str:
        chat_id = str(params.get("chat_id") or "")
        if chat_id not in self.users:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    async def _m_sendmessage(self, params: dict) -> dict:
        chat_id = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not 1 <= utf16_len(text) <= MAX_TEXT:
            raise ApiError(400, "Bad Request: text must be 1-2000 characters")
        return self._count_and_record(chat_id, text)

    async def _m_sendphoto(self, params: dict) -> dict:
        chat_id = self._chat(params)
        url = str(params.get("photo") or "")
        if not url.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: photo must be a public URL")
        caption = params.get("caption")
        if caption is not None and (not isinstance(caption, str) or utf16_len(caption) > MAX_TEXT):
            raise ApiError(400, "Bad Request: caption must be at most 2000 characters")
        data = await self._fetch_image(url) if self.fetch_photos else None
        return self._count_and_record(chat_id, "[photo] " + str(caption or ""), photo=data, photo_url=url)

    async def _fetch_image(self, url: str) -> bytes:
        """Zalo fetches the photo itself: it must answer 200 with a JPG or PNG."""
        try:
            async with self._client.get(self.resolve(url), timeout=aiohttp.ClientTimeout(total=10)) as resp:
                status, kind, data = resp.status, resp.content_type, await resp.read()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise ApiError(400, "Bad Request: the photo URL could not be fetched") from None
        looks = data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")
        if status != 200 or not kind.startswith("image/") or not looks:
            raise ApiError(400, f"Bad Request: the photo URL gave no image (HTTP {status}, {kind})")
        return data

    async def _m_sendchataction(self, params: dict) -> bool:
        self._chat(params)
        return True

    def _count_and_record(self, chat_id: str, text: str, **photo) -> dict:
        if len(self.sent) >= self.quota:
            self.refused_429 += 1
            raise ApiError(429, "Quota exceeded")
        message = SentMessage(chat_id, text, f"b{next(self._ids)}", next(self._seq), **photo)
        self.sent.append(message)
        return {"message_id": message.message_id, "date": int(time.time() * 1000)}

    # ---- people -------------------------------------------------------------------------------

    def user(self, user_id: str, name: str) -> None:
        self.users[user_id] = name

    def messages(self, chat_id: str) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def mark(self) -> int:
        return max((m.seq for m in self.sent), default=0)

    def _update(self, user_id: str, event: str, *, group: str | None = None, **fields) -> dict:
        message = {
            "from": {"id": user_id, "display_name": self.users.get(user_id, ""), "is_bot": False},
            "chat": {"id": group, "chat_type": "GROUP"} if group else {"id": user_id, "chat_type": "PRIVATE"},
            "message_id": f"m{next(self._ids)}", "date": int(time.time() * 1000), **fields,
        }
        update = {"event_name": event, "message": message}
        self.updates_made.append(update)
        return update

    async def send_text(self, user_id: str, text: str) -> str:
        return await self.deliver(self._update(user_id, "message.text.received", text=text))

    async def send_photo(self, user_id: str, data: bytes, caption: str | None = None) -> str:
        name = f"p{next(self._ids)}.jpg"
        self._media[name] = data
        fields = {self.photo_field: f"http://127.0.0.1:{self.port}/media/{name}"}
        if caption:
            fields["caption"] = caption
        return await self.deliver(self._update(user_id, "message.image.received", **fields))

    async def send_group_text(self, user_id: str, group_id: str, text: str) -> str:
        return await self.deliver(self._update(user_id, "message.text.received", group=group_id, text=text))

    async def send_sticker(self, user_id: str) -> str:
        return await self.deliver(self._update(user_id, "message.sticker.received", sticker="s1", url=""))

    async def send_voice(self, user_id: str) -> str:
        return await self.deliver(self._update(user_id, "message.voice.received"))

    async def send_unsupported(self, user_id: str) -> str:
        return await self.deliver(self._update(user_id, "message.unsupported.received"))

    async def deliver(self, update: dict) -> str:
        """To the webhook if one is set (answered with its HTTP status), else to the next poll."""
        if self.webhook is not None:
            self.last_webhook_status = await self.post_webhook(update)
        else:
            await self._queue.put(update)
        return update["message"]["message_id"]

    async def deliver_again(self, message_id: str) -> None:
        """The same update once more (Zalo retrying, or a poller seeing it twice)."""
        update = next(u for u in self.updates_made if u["message"]["message_id"] == message_id)
        await self.deliver(copy.deepcopy(update))

    async def post_empty(self, *, secret: str | None = None) -> int:
        """A webhook call with no body at all (as when Zalo checks the URL)."""
        headers = {"User-Agent": "Java/1.8.0_292"}
        secret = self.webhook["secret_token"] if secret is None else secret
        if secret:
            headers[SECRET_HEADER] = secret
        async with self._client.post(self.resolve(self.webhook["url"]), headers=headers, data=b"") as resp:
            return resp.status

    async def post_webhook(self, update: dict, *, secret: str | None = None, body: bytes | None = None) -> int:
        payload = {"ok": True, "result": update} if self.webhook_body == "wrapped" else update
        headers = {"Content-Type": "application/json", "User-Agent": "Java/1.8.0_292"}
        secret = self.webhook["secret_token"] if secret is None else secret
        if secret:
            headers[SECRET_HEADER] = secret
        async with self._client.post(self.resolve(self.webhook["url"]), headers=headers,
                                     data=body if body is not None else json.dumps(payload).encode()) as resp:
            return resp.status
