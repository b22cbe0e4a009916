"""A strict, in-process emulator of Zalo's template messages (ZNS, "ZBS Template Message" from
2026) over real HTTP on 127.0.0.1, as /tmp/zalo_template_findings.md (README, Zalo template
messages) describes them:

- POST /message/template {phone: "84…", template_id, template_data, tracking_id?} and
  POST /v3.0/oa/message/template {user_id, template_id, template_data} (by Zalo user id), header
  `access_token`: the official account's token, checked against the OA emulator's (-124 if not);
- GET /template/info/v2?template_id= (and the older /template/info): status and listParams;
- template_data must hold exactly the template's parameters, strings within their lengths, digits
  for NUMBER; the phone must be 84 + 9 or 10 digits; the template must exist and be ENABLE; a
  template that does not support user ids answers -249.

Error codes are the ones the findings name where they name one (-108, -124, -133, -144, -249); the
others are this emulator's choice. `fail_next(code)` makes the next sends fail with a code.
"""

from __future__ import annotations

import itertools
import re
import time
import traceback
from dataclasses import dataclass, field

from aiohttp import web

PHONE = re.compile(r"84\d{9,10}")
TRACKING = re.compile(r"[A-Za-z0-9_\-]{1,48}")


@dataclass
class Template:
    template_id: str
    params: list[dict]  # {"name", "require", "type", "maxLength", "minLength", "acceptNull"}
    status: str = "ENABLE"
    by_user_id: bool = True  # made after 10/12/2025: may be sent by Zalo user id
    tag: str = "TRANSACTION"


def param(name: str, *, max_length: int = 30, require: bool = True, kind: str = "STRING") -> dict:
    return {"name": name, "require": require, "type": kind, "maxLength": max_length, "minLength": 0,
            "acceptNull": not require}


@dataclass
class TemplateSent:
    to: str  # "84…" or "uid:<id>"
    template_id: str
    data: dict
    tracking_id: str | None
    msg_id: str


@dataclass
class ZaloTemplateEmulator:
    oa: object  # the ZaloOAEmulator whose access tokens these APIs accept
    templates: dict[str, Template] = field(default_factory=dict)
    sent: list[TemplateSent] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    info_requests: list[str] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._fail: list[int] = []
        self._runner: web.AppRunner | None = None

    def add(self, template: Template) -> Template:
        self.templates[template.template_id] = template
        return template

    def fail_next(self, code: int, times: int = 1) -> None:
        """The next `times` sends answer `code` (e.g. -133 at night, -144 quota) before working again."""
        self._fail.extend([code] * times)

    # ---- server -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/message/template", self._guard(self._send_phone))
        app.router.add_post("/v3.0/oa/message/template", self._guard(self._send_uid))
        app.router.add_get("/template/info/v2", self._guard(self._info))
        app.router.add_get("/template/info", self._guard(self._info))
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def uid_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3.0/oa/message/template"

    def _guard(self, handler):
        async def run(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except Exception:  # noqa: BLE001 - an emulator bug fails the test
                self.internal_errors.append(traceback.format_exc())
                return web.json_response({"error": -500, "message": "emulator error"}, status=500)

        return run

    def _refuse(self, code: int, message: str) -> web.Response:
        self.refused.append(code)
        return web.json_response({"error": code, "message": message})

    def _token_ok(self, request: web.Request) -> bool:
        return self.oa._valid(request.headers.get("access_token", ""))

    # ---- template info ------------------------------------------------------------------------

    async def _info(self, request: web.Request) -> web.Response:
        tid = request.query.get("template_id", "")
        self.info_requests.append(tid)
        if not self._token_ok(request):
            return self._refuse(-124, "Access token is invalid")
        template = self.templates.get(tid)
        if template is None:
            return self._refuse(-109, "Template ID invalid")
        return web.json_response({"error": 0, "message": "Success", "data": {
            "templateId": int(tid), "templateName": "Báo động khẩn cấp", "status": template.status,
            "listParams": template.params, "listButtons": [
                {"type": 2, "title": "Mở Zalo OA", "content": "https://oa.zalo.me/oa-4321"}],
            "timeout": 7200000, "previewUrl": "https://account.zalo.cloud/znspreview/x", "templateQuality": "UNDEFINED",
            "templateTag": template.tag, "price_sdt": "300", "price_uid": "200"}})

    # ---- sending ------------------------------------------------------------------------------

    def _check(self, body: dict, allowed: set[str]) -> tuple[Template | None, web.Response | None]:
        unknown = set(body) - allowed
        if unknown:
            return None, self._refuse(-100, f"unknown fields: {', '.join(sorted(unknown))}")
        template = self.templates.get(str(body.get("template_id") or ""))
        if not isinstance(body.get("template_id"), str) or template is None:
            return None, self._refuse(-109, "Template ID invalid")
        if template.status != "ENABLE":
            return None, self._refuse(-1123, f"Template is {template.status}")
        data = body.get("template_data")
        if not isinstance(data, dict) or not data:
            return None, self._refuse(-1122, "Template data empty")
        names = {p["name"] for p in template.params}
        if set(data) != names:
            return None, self._refuse(-1124, f"Template data invalid: expected exactly {sorted(names)}, got {sorted(data)}")
        for p in template.params:
            value = data[p["name"]]
            if not isinstance(value, str):
                return None, self._refuse(-1124, f"Template data invalid: {p['name']} is not a string")
            if (p["require"] and not p["acceptNull"]) and not value:
                return None, self._refuse(-1124, f"Template data invalid: {p['name']} is empty")
            if not p["minLength"] <= len(value) <= p["maxLength"]:
                return None, self._refuse(-1124, f"Template data invalid: {p['name']} is longer than {p['maxLength']}")
            if p["type"] == "NUMBER" and value and not value.isdigit():
                return None, self._refuse(-1124, f"Template data invalid: {p['name']} is not a number")
        if self._fail:
            return None, self._refuse(self._fail.pop(0), "refused as told")
        return template, None

    def _accept(self, to: str, body: dict, *, by: str) -> web.Response:
        sent = TemplateSent(to, body["template_id"], dict(body["template_data"]), body.get("tracking_id"),
                            f"zns{next(self._ids)}")
        self.sent.append(sent)
        quota = {"dailyQuota": "1000", "remainingQuota": str(1000 - len(self.sent))}
        if by == "phone":
            return web.json_response({"error": 0, "message": "Success", "data": {
                "msg_id": sent.msg_id, "sent_time": str(int(time.time() * 1000)), "quota": quota}})
        return web.json_response({"error": 0, "message": "Success", "data": {
            "message_id": sent.msg_id, "user_id": to[4:], "quota": quota}, "sent_time": str(int(time.time() * 1000))})

    async def _send_phone(self, request: web.Request) -> web.Response:
        if not self._token_ok(request):
            return self._refuse(-124, "Access token is invalid")
        body = await request.json()
        phone = body.get("phone")
        if not isinstance(phone, str) or not PHONE.fullmatch(phone):
            return self._refuse(-108, "Phone number invalid")
        tracking = body.get("tracking_id")
        if tracking is not None and (not isinstance(tracking, str) or not TRACKING.fullmatch(tracking)):
            return self._refuse(-100, "tracking_id invalid")
        template, refused = self._check(body, {"phone", "template_id", "template_data", "tracking_id"})
        if refused is not None:
            return refused
        return self._accept(phone, body, by="phone")

    async def _send_uid(self, request: web.Request) -> web.Response:
        if not self._token_ok(request):
            return self._refuse(-124, "Access token is invalid")
        body = await request.json()
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or user_id not in self.oa.users:
            return self._refuse(-201, "user_id invalid")
        template, refused = self._check(body, {"user_id", "template_id", "template_data"})
        if refused is not None:
            return refused
        if not template.by_user_id:
            return self._refuse(-249, "Template does not support send via UID")
        return self._accept("uid:" + user_id, body, by="uid")

    def to(self, address: str) -> list[TemplateSent]:
        return [m for m in self.sent if m.to == address]
