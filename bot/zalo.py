"""Zalo in the running bot: which communes have a Zalo bot or an official account (credentials in
the environment, under the default names or the ones their [[communes]] table gives), a channel
for each distinct bot and account, and the operator alerts those channels raise.

Communes that name the same credentials share one channel: its webhook answers on each of their
URLs (/zalo/bot/{commune}/webhook, /zalo/oa/{commune}/webhook).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import ZaloOAChannel
from bot.channels.zalo_template import ZaloTemplateChannel
from core.config import Config
from core.events import Reply
from core.i18n import N_, translate
from storage import outbox as outbox_store
from storage.models import Identity, Person, PersonRole

log = logging.getLogger(__name__)

ALERT_EVERY = timedelta(hours=6)  # an operator alert about the same thing at most this often
ALERTS = {
    "quota": N_("⚠️ Zalo Bot: Zalo refused to send a message (429): this month's message quota is used up. "
                "People on Zalo Bot are reached on their other channels where they have one. Raise the quota "
                "in the Zalo Bot dashboard, or wait for the next month."),
    "token": N_("⚠️ Zalo official account: its access token could not be renewed, so nothing goes out through "
                "it. Authorise the official account again and put the new tokens in the environment "
                "(README, Zalo)."),
}


class ZaloSetupError(Exception):
    """Credentials present but incomplete: the bot must not start half-configured."""


@dataclass(frozen=True)
class BotCredentials:
    token: str
    webhook_secret: str
    secret_env: str  # the variable's name, for error messages
    communes: tuple[str, ...]


@dataclass(frozen=True)
class OACredentials:
    app_id: str
    app_secret: str
    secret_key: str
    access_token: str
    refresh_token: str
    names: dict  # the variables' names, for error messages
    communes: tuple[str, ...]


def _value(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def bot_credentials(config: Config, env: Mapping[str, str]) -> list[BotCredentials]:
    groups: dict[str, list] = {}
    for commune in config.communes:
        token = _value(env, commune.zalo.bot_token)
        if token:
            groups.setdefault(token, []).append(commune)
    return [
        BotCredentials(token, _value(env, communes[0].zalo.bot_webhook_secret), communes[0].zalo.bot_webhook_secret,
                       tuple(c.id for c in communes))
        for token, communes in groups.items()
    ]


def oa_credentials(config: Config, env: Mapping[str, str]) -> list[OACredentials]:
    groups: dict[str, list] = {}
    for commune in config.communes:
        app_id = _value(env, commune.zalo.oa_app_id)
        if app_id:
            groups.setdefault(app_id, []).append(commune)
    out = []
    for app_id, communes in groups.items():
        names = communes[0].zalo
        out.append(OACredentials(
            app_id, _value(env, names.oa_app_secret), _value(env, names.oa_secret_key),
            _value(env, names.oa_access_token), _value(env, names.oa_refresh_token),
            {"app_secret": names.oa_app_secret, "secret_key": names.oa_secret_key}, tuple(c.id for c in communes),
        ))
    return out


def secret_values(config: Config, env: Mapping[str, str]) -> list[str]:
    """Every Zalo secret this deployment holds, for the log redactor (app ids are public)."""
    out = []
    for commune in config.communes:
        z = commune.zalo
        for name in (z.bot_token, z.bot_webhook_secret, z.oa_app_secret, z.oa_secret_key, z.oa_access_token,
                     z.oa_refresh_token):
            if _value(env, name):
                out.append(_value(env, name))
    return out


def configured(config: Config, env: Mapping[str, str]) -> bool:
    return bool(bot_credentials(config, env) or oa_credentials(config, env))


def add_channels(app, env: Mapping[str, str]) -> list[str]:
    """Add a channel per Zalo bot and official account with credentials; what was added, in words."""
    config = app.config
    alerts = OperatorAlerts(app)
    added = []
    for creds in bot_credentials(config, env):
        if config.zalo_bot.mode == "webhook" and not 8 <= len(creds.webhook_secret) <= 256:
            raise ZaloSetupError(f"[zalo_bot] mode = \"webhook\" needs {creds.secret_env} (8 to 256 characters)")
        channel = ZaloBotChannel(creds.token, config.zalo_bot, app.inbox, communes=creds.communes,
                                 webhook_secret=creds.webhook_secret, public_url=config.http.public_url)
        channel.on_quota = lambda ch: alerts.raise_soon("quota", ch)
        # The plan's monthly messages: the free plan's unless [operations] zalo_monthly_quota says otherwise.
        channel.capabilities = replace(channel.capabilities, monthly_quota=config.operations.zalo_monthly_quota,
                                       max_users=config.operations.zalo_bot_user_limit)
        app.add_channel(channel)
        added.append(f"zalo_bot {'+'.join(creds.communes)} ({config.zalo_bot.mode})")
    for creds in oa_credentials(config, env):
        for key in ("secret_key", "app_secret"):
            if not getattr(creds, key):
                raise ZaloSetupError(f"the Zalo official account {creds.app_id} needs {creds.names[key]}")
        channel = ZaloOAChannel(
            app_id=creds.app_id, app_secret=creds.app_secret, secret_key=creds.secret_key, config=config.zalo_oa,
            inbox=app.inbox, communes=creds.communes, access_token=creds.access_token,
            refresh_token=creds.refresh_token,
        )
        channel.on_release = app.outbox.wake
        channel.tokens.on_problem = lambda _problem, ch=channel: alerts.raise_soon("token", ch)
        app.add_channel(channel)
        added.append(f"zalo_oa {'+'.join(creds.communes)} (webhook)")
        if config.zalo_template.enabled:  # with the official account's token, after it (it starts first)
            app.add_channel(ZaloTemplateChannel(config=config.zalo_template, oa=channel))
            added.append(f"zalo_template {config.zalo_template.template_id} via the official account {creds.app_id}")
    return added


async def template_test(app, to: str, out) -> int:
    """`python -m bot zalo-template-test --to PHONE`: one template message with test fields
    ("HS-TEST", "(thử)") through the first official account; prints Zalo's answer. 0 when Zalo
    accepted it."""
    import json

    channel = next((c for c in app.channels if isinstance(c, ZaloTemplateChannel)), None)
    if channel is None:
        print("error: no template channel: set [zalo_template] template_id and params in config.toml and the "
              "official account's variables (ZALO_OA_APP_ID, …) in the environment", file=out)
        return 2
    address = phone_for_template(to)
    if address is None:
        print(f"error: {to!r} is not a Vietnamese phone number (0912345678, +84912345678 or 84912345678)", file=out)
        return 2
    await channel.oa.start()  # its HTTP session and its token pair (seeded from the environment)
    try:
        await channel.start()  # the start-up check
        if channel.problems is None:
            print("note: Zalo's template info could not be read; sending anyway", file=out)
        for problem in channel.problems or ():
            print(f"problem: {problem}", file=out)
        from bot.channels.zalo_template import TemplateError

        try:
            answer = await channel.send_test(address)
        except TemplateError as exc:
            print(f"error: the request did not get an answer from Zalo: {exc}", file=out)
            return 1
    finally:
        await channel.stop()
        await channel.oa.stop()
    print(f"template {channel.config.template_id} to {address}: Zalo answered", file=out)
    print(json.dumps(answer, ensure_ascii=False, indent=2), file=out)
    return 0 if answer.get("error") == 0 else 1


def phone_for_template(typed: str) -> str | None:
    """0912 345 678, +84912345678, 84912345678 → 84912345678 (Zalo's form)."""
    import re

    digits = re.sub(r"[\s.\-()]", "", typed or "")
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits if re.fullmatch(r"84[1-9]\d{7,9}", digits) else None


class OperatorAlerts:
    """Tells the admins of a channel's communes, on their OTHER channels, that it needs them: a log
    line and one message each, at most every ALERT_EVERY for the same problem of the same account."""

    def __init__(self, app) -> None:
        self.app = app
        self._last: dict[tuple[str, str], datetime] = {}
        self._tasks: set[asyncio.Task] = set()

    def raise_soon(self, kind: str, channel) -> None:
        key = (kind, f"{channel.name}:{channel.account}")
        now = self.app.clock.now()
        if key in self._last and now - self._last[key] < ALERT_EVERY:
            return
        self._last[key] = now
        task = asyncio.get_running_loop().create_task(self.tell_admins(kind, channel))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tell_admins(self, kind: str, channel) -> int:
        app = self.app
        now = app.clock.now()
        queued = 0
        try:
            async with app.sessions() as session, session.begin():
                admins = (await session.scalars(
                    select(Person).join(PersonRole, PersonRole.person_id == Person.id).where(
                        PersonRole.role == "admin", Person.active.is_(True),
                        Person.commune_id.in_(channel.communes) | Person.commune_id.is_(None),
                    ).order_by(Person.id)
                )).all()
                for person in admins:
                    reply = Reply(text=translate(person.lang, ALERTS[kind]))
                    for identity in (await session.scalars(
                        select(Identity).where(Identity.person_id == person.id))).all():
                        if (identity.channel, identity.account) == (channel.name, channel.account):
                            continue  # the channel in trouble cannot carry the news
                        outbox_store.queue_to_chat(
                            session, app.services.keyring, channel=identity.channel, account=identity.account,
                            chat_id=identity.chat_id, person_id=person.id, reply=reply, now=now, kind="notice",
                        )
                        queued += 1
        except Exception:  # noqa: BLE001 - an alert must never take the channel down
            log.exception("could not queue the operator alert about %s", kind)
            return 0
        log.error("operator alert (%s, %s %s): %d message(s) to admins queued", kind, channel.name, channel.account,
                  queued)
        app.outbox.wake()
        return queued
