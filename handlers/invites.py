"""/moi: an admin creates an invite code in the chat."""

from __future__ import annotations

from core.events import Choice
from handlers.context import Ctx
from handlers.menu import ROLE_NAMES
from storage.cases import audit
from storage.invites import create_invite
from storage.people import users_per_account

CHAT_ROLES = ("reporter", "office", "police", "leader", "admin")


def ask_role(ctx: Ctx) -> None:
    ctx.say(
        ctx.t("Invite someone as:"),
        [Choice(ctx.t(ROLE_NAMES[r]), f"i:{r}") for r in CHAT_ROLES],
    )


def ask_village(ctx: Ctx) -> None:
    villages = ctx.commune.villages
    ctx.say(ctx.t("Which village does the reporter work in?"), [Choice(v.name, f"i:reporter:{v.id}") for v in villages], columns=3)


async def on_choice(ctx: Ctx, parts: list[str]) -> None:
    """A press of "i:<role>[:<village>]": the parts after the prefix."""
    role = parts[0] if parts else ""
    if role not in CHAT_ROLES:
        ask_role(ctx)
        return
    villages: list[str] = []
    if role == "reporter":
        if len(parts) < 2 or ctx.commune.village(parts[1]) is None:
            ask_village(ctx)
            return
        villages = [parts[1]]
    code = await create_invite(
        ctx.session, now=ctx.now, days=ctx.config.invite_days, commune_id=ctx.person.commune_id or ctx.commune.id,
        roles=[role], villages=villages, org="village_head" if role == "reporter" else None, created_by=ctx.person.id,
    )
    audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="invite_created", now=ctx.now,
          detail=role)
    ctx.say(ctx.t("Invite code: {code}\nIt can be used once, within {days} days. The person sends /start {code} to the bot.",
                  code=code, days=ctx.config.invite_days))
    await _warn_if_a_bot_is_nearly_full(ctx)


async def _warn_if_a_bot_is_nearly_full(ctx: Ctx) -> None:
    """A new invite while a Zalo bot nears the people its plan allows: say so to whoever makes it."""
    declared = ctx.services.capabilities.get("zalo_bot")
    limit = (declared.max_users if declared else 0) or ctx.config.operations.zalo_bot_user_limit
    served = max((await users_per_account(ctx.session, "zalo_bot")).values(), default=0)
    if served >= ctx.config.operations.zalo_users_warn:
        ctx.say(ctx.t("Note: the Zalo bot already serves {used} of the {limit} people its plan allows. Past that "
                      "nobody new can enrol there: this code also works on Telegram and the Zalo official account.",
                      used=served, limit=limit))
