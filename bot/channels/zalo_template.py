"""Zalo template messages (ZNS; "ZBS Template Message" from 2026): paid messages that reach a
person outside any official-account window, with a template Zalo approved in advance. The bot
sends one beside an urgent alert the official account had to hold (handlers/reachability.py).

- By phone: POST {api_url}/message/template, header `access_token` (the official account's own
  token, refreshed by its channel), body {phone: "84…", template_id, template_data, tracking_id}.
  By Zalo user id (templates made since 10/12/2025): POST {uid_url} with {user_id, template_id,
  template_data}. Success is {"error": 0}; failures are a non-zero `error`, often with HTTP 200.
  An invalid token answers -124 (the business API) or -216 / HTTP 401: refreshed once, tried again.
- A row's "chat id" is "84…" or "uid:<user id>". Only the row's template fields are sent, mapped
  onto the template's parameter names by [zalo_template.params]; the reply beside them never is.
- At start-up the template is checked against GET {api_url}/template/info/v2?template_id=…: it
  must exist, be ENABLE (approved), have every parameter we name, and every parameter it requires
  must be named. What is wrong is logged, raised as an admin notice (shown by `status`) and the bot
  starts all the same: Zalo's answer to each send is the final word.

See /tmp/zalo_template_findings.md (README, Zalo template messages) for the sources and the rule
on sending at night.
"""

from __future__ import annotations

import logging
import re
import secrets

import aiohttp

from bot.channels.base import Channel
from bot.channels.zalo_oa import OAError, read_json
from core.config import ZaloTemplateConfig
from core.events import PLAIN, Delivery, Reply
from storage import operations as ops

log = logging.getLogger(__name__)

PHONE = re.compile(r"84\d{9,10}")
EXPIRED_TOKEN = (-124, -216)
RETRYABLE = (-32, -500)  # rate limited, Zalo's server error: worth another try later
# Zalo's codes that deserve words of their own in the outbox's record and the log.
KNOWN = {
    -108: "the phone number is not valid for Zalo",
    -117: "this official account may not use the template",
    -133: "Zalo refuses this template at this hour (register it under Tag 1, Transaction)",
    -139: "the person cannot receive template messages",
    -144: "the daily quota of template messages is used up",
    -147: "the template's daily quota is used up",
    -249: "this template cannot be sent by Zalo user id (made before 10/12/2025?)",
}


class TemplateError(Exception):
    def __init__(self, code: int, description: str, *, retry: bool = False) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.retry = code, retry


def notice_key(account: str) -> str:
    return f"zalo_template:{account}"


def check_template(config: ZaloTemplateConfig, answer: dict) -> list[str]:
    """What is wrong with the configured template, from Zalo's template-info answer, in words an
    operator can act on; [] when nothing is."""
    tid = config.template_id
    error = answer.get("error")
    if error not in (0, None):
        return [f"Zalo answered {error} ({str(answer.get('message') or '')[:80]}) when asked about template {tid}: "
                "is [zalo_template] template_id right, and is the template this official account's?"]
    data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
    problems = []
    if data.get("templateId") is not None and str(data.get("templateId")) != tid:
        problems.append(f"Zalo described template {data.get('templateId')} when asked about {tid}")
    status = str(data.get("status") or "").upper()
    if status != "ENABLE":
        problems.append(f"template {tid} is {status or 'of unknown status'}, not ENABLE: Zalo has not approved it, "
                        "or has disabled it")
    params = {str(p.get("name")): p for p in data.get("listParams") or [] if isinstance(p, dict)}
    for ours, name in config.params:
        if name not in params:
            problems.append(f'[zalo_template.params] {ours} = "{name}": template {tid} has no parameter "{name}" '
                            f"(its parameters: {', '.join(sorted(params)) or 'none'})")
    mapped = {name for _, name in config.params}
    for name, param in params.items():
        if param.get("require") and name not in mapped:
            problems.append(f'template {tid} requires the parameter "{name}", which [zalo_template.params] does '
                            "not fill in")
    return problems


class ZaloTemplateChannel(Channel):
    name = "zalo_template"
    capabilities = PLAIN  # nothing but the template's fields goes out
    per_account = True

    def __init__(self, *, config: ZaloTemplateConfig, oa) -> None:
        self.config = config
        self.oa = oa  # the official account's channel: its app id and its token
        self.account = oa.account
        self.tokens = oa.tokens
        self.sessions, self.clock = oa.sessions, oa.clock
        self.http: aiohttp.ClientSession | None = None
        self.limits: dict[str, int] = {}  # the template's maximum length per parameter, from the check
        self.problems: list[str] | None = None  # None: not checked (Zalo could not be asked)

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        await self.check()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()

    # ---- the start-up check -------------------------------------------------------------------

    async def check(self) -> list[str] | None:
        """Ask Zalo about the template; log, and raise or resolve the admin notice. Never raises."""
        tid = self.config.template_id
        try:
            answer = await self._call("GET", f"{self.config.api_url}/template/info/v2", params={"template_id": tid},
                                      total=15)
        except TemplateError as exc:
            log.warning("zalo_template %s: template %s could not be checked (%s); it will be tried when an alert "
                        "needs it", self.account, tid, exc)
            return None
        problems = check_template(self.config, answer)
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        for param in data.get("listParams") or []:
            if isinstance(param, dict) and isinstance(param.get("maxLength"), int) and param["maxLength"] > 0:
                self.limits[str(param.get("name"))] = param["maxLength"]
        self.problems = problems
        for problem in problems:
            log.error("zalo_template %s: %s", self.account, problem)
        if not problems:
            log.info("zalo_template %s: template %s is approved and its parameters match [zalo_template.params]",
                     self.account, tid)
        try:
            async with self.sessions() as session, session.begin():
                now = self.clock.now()
                if problems:
                    await ops.raise_notice(session, notice_key(self.account), now=now, problem="; ".join(problems)[:400])
                else:
                    await ops.resolve_notice(session, notice_key(self.account), now=now)
        except Exception:  # noqa: BLE001 - the check must never keep the bot from starting
            log.exception("zalo_template %s: could not record the check", self.account)
        return problems

    # ---- sending ------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        """A reply without template fields: nothing may be sent (never its text)."""
        return Delivery(ok=False, permanent=True, error="zalo_template: the message carries no template fields")

    def template_data(self, fields: dict) -> dict[str, str]:
        """Our fields under the template's parameter names, cut to the lengths the template allows."""
        out = {}
        for ours, name in self.config.params:
            value = str(fields.get(ours) or "")
            limit = self.limits.get(name)
            out[name] = value[:limit] if limit else value
        return out

    async def send_fields(self, chat_id: str, fields: dict) -> Delivery:
        try:
            answer = await self.post(chat_id, self.template_data(fields), ref=str(fields.get("ref") or ""))
        except TemplateError as exc:
            return Delivery(ok=False, permanent=not exc.retry, error=f"zalo_template {exc}"[:200])
        error = answer.get("error")
        if error == 0:
            data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
            return Delivery(ok=True, platform_ids=[str(data.get("msg_id") or data.get("message_id") or "")])
        code = int(error) if isinstance(error, int) else -1
        said = KNOWN.get(code) or str(answer.get("message") or "")[:120]
        log.warning("zalo_template %s: Zalo refused a template message (%s: %s)", self.account, code, said)
        return Delivery(ok=False, permanent=code not in RETRYABLE, error=f"zalo_template {code}: {said}"[:200])

    async def post(self, chat_id: str, template_data: dict, *, ref: str = "") -> dict:
        """Send the template to "84…" or "uid:<id>"; Zalo's answer as it came."""
        body: dict = {"template_id": self.config.template_id, "template_data": template_data}
        if chat_id.startswith("uid:"):
            url = self.config.uid_url
            body["user_id"] = chat_id[4:]
        elif PHONE.fullmatch(chat_id):
            url = f"{self.config.api_url}/message/template"
            body = {"phone": chat_id, **body, "tracking_id": re.sub(r"[^A-Za-z0-9]", "", ref)[:32] + secrets.token_hex(4)}
        else:
            raise TemplateError(-108, "not a phone number in Zalo's form (84…) nor a Zalo user id")
        return await self._call("POST", url, json=body)

    async def send_test(self, to: str) -> dict:
        """One test message (python -m bot zalo-template-test): fields that name no case."""
        fields = {"ref": "HS-TEST", "urgent_word": "KHẨN CẤP", "village": "(thử)",
                  "reporter_phone": "0" + to[2:] if to.startswith("84") else to}
        return await self.post(to, self.template_data(fields), ref="HSTEST")

    async def _call(self, method: str, url: str, *, json: dict | None = None, params: dict | None = None,
                    total: float = 30) -> dict:
        try:
            token = await self.tokens.current()
        except OAError as exc:
            raise TemplateError(exc.code, f"no access token of the official account: {exc}", retry=True) from None
        for attempt in (1, 2):
            try:
                async with self.http.request(method, url, json=json, params=params, headers={"access_token": token},
                                             timeout=aiohttp.ClientTimeout(total=total)) as resp:
                    status, data = resp.status, await read_json(resp)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise TemplateError(0, type(exc).__name__, retry=True) from None
            error = data.get("error")
            if status == 401 or error in EXPIRED_TOKEN:
                if attempt == 1:
                    try:
                        token = await self.tokens.refresh(token)  # the official account's lock and pair
                    except OAError as exc:
                        raise TemplateError(exc.code, "the access token could not be renewed", retry=True) from None
                    continue
                raise TemplateError(int(error) if isinstance(error, int) else 401, "access token refused after a refresh")
            if status >= 500 or status == 429:
                raise TemplateError(status, f"HTTP {status}", retry=True)
            if status != 200:
                raise TemplateError(status, f"HTTP {status}")
            return data
        raise AssertionError("unreachable")


