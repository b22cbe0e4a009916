"""Enrolment with an invite code, and the phone number for call-backs.

Anyone not enrolled gets a polite explanation of how to get a code, and nothing else.
"""

from __future__ import annotations

import re

from sqlalchemy import update

from core.events import Choice
from handlers import parsing
from handlers.context import Ctx
from handlers.menu import ORG_NAMES, ROLE_NAMES, main_menu
from storage import invites
from storage.cases import audit
from storage.models import ChatState, Person
from storage.people import attach_identity, create_person, load_profile, users_per_account
from storage.step_read import known

AWAIT_CODE = "code"
AWAIT_PHONE = "phone"

# Other ways in for someone not enrolled on this channel (linking a second messenger: linking.py).
# Each hook is `async (ctx) -> bool` and returns True when it handled the event.
STRANGER_HOOKS: list = []


async def chat_state(ctx: Ctx) -> ChatState | None:
    return await known(ctx.session, ChatState, ctx.event.conv_key)


async def set_chat_state(ctx: Ctx, awaiting: str | None) -> None:
    if awaiting is None:
        row = await known(ctx.session, ChatState, ctx.event.conv_key)  # the step read it: mostly there is none
        if row is not None:
            await ctx.session.delete(row)
        return
    row = await known(ctx.session, ChatState, ctx.event.conv_key)
    if row is None:
        ctx.session.add(ChatState(chat_key=ctx.event.conv_key, awaiting=awaiting, updated_at=ctx.now))
    else:
        row.awaiting, row.updated_at = awaiting, ctx.now


def explain_enrolment(ctx: Ctx) -> None:
    ctx.say(
        ctx.t(
            "Hello! This bot is for village heads and officers of the commune who have been invited. "
            "To use it, ask the culture-society office (Phòng Văn hóa - Xã hội) or the administrator "
            "for an invite code, then send: /start CODE"
        )
    )


async def handle_stranger(ctx: Ctx) -> None:
    """Everything a person who is not enrolled may do: send a code."""
    for hook in STRANGER_HOOKS:
        if await hook(ctx):
            return
    text = (ctx.event.text or "").strip()
    command, _, arg = text.partition(" ")
    state = await chat_state(ctx)
    if parsing.fold(command) in ("/start", "start"):
        if arg.strip():
            await _try_code(ctx, arg)
        else:
            await set_chat_state(ctx, AWAIT_CODE)
            ctx.say(ctx.t("Welcome! Please type the 8-character invite code you were given."))
        return
    if ctx.event.kind == "text" and (parsing.looks_like_code(text) or (state and state.awaiting == AWAIT_CODE
                                                                         and _could_be_a_code(text))):
        await _try_code(ctx, text)
        return
    explain_enrolment(ctx)  # "xin chào", "alo" after a follow: the hello again, never a wrong code counted


def _could_be_a_code(text: str) -> bool:
    """An attempt at a code (mistyped, spaced, one letter short), not a greeting: only such a text
    counts towards the hour's limit of wrong codes."""
    squeezed = re.sub(r"[\s.\-_]", "", text)
    return 5 <= len(squeezed) <= 12 and squeezed.isalnum() and any(c.isdigit() for c in squeezed)


async def bot_is_full(ctx: Ctx) -> bool:
    """A channel whose plan limits the people one bot serves (the free Zalo Bot: 50) and that is
    full refuses new enrolments, pointing elsewhere. The emergency numbers are never refused: the
    urgent path answers before enrolment, and the refusal repeats them."""
    limit = ctx.caps.max_users
    if not limit:
        return False
    served = (await users_per_account(ctx.session, ctx.event.channel)).get(ctx.event.account, 0)
    if served < limit:
        return False
    ctx.say(ctx.t("This Zalo bot already serves the {n} people its plan allows, so it cannot enrol anyone else. "
                  "Please ask the office for an invite to use on Telegram or on the commune's Zalo official "
                  "account. If someone is in danger, call 113 now.", n=limit))
    return True


async def _try_code(ctx: Ctx, typed: str) -> None:
    key = ctx.event.conv_key
    if await bot_is_full(ctx):
        return  # the invite is not used: it still works on another channel
    if await invites.failures_in_last_hour(ctx.session, key, ctx.now) >= invites.MAX_FAILURES_PER_HOUR:
        ctx.say(ctx.t("Too many wrong codes. Please try again in an hour, or ask the office for a new code."))
        return
    invite = await invites.redeem(ctx.session, typed, ctx.now)
    if invite is None:
        await invites.record_failure(ctx.session, key, ctx.now)
        ctx.say(
            ctx.t(
                "That code is not valid: it may be mistyped, already used or expired. "
                "Please check it and send it again, or ask the office for a new one."
            )
        )
        return
    ev = ctx.event
    person = await create_person(
        ctx.session, now=ctx.now, name=invite.name or ev.display_name or "", commune_id=invite.commune_id,
        roles=invite.roles, villages=invite.villages, org=invite.org, lang=ctx.lang,
    )
    invite.used_by = person.id
    audit(ctx.session, actor_id=invite.created_by, channel=ev.channel, action="roles_granted", now=ctx.now,
          detail=f"person {person.id}: {', '.join(invite.roles)}")
    await attach_identity(
        ctx.session, person.id, channel=ev.channel, account=ev.account, external_id=ev.user_id,
        chat_id=ev.chat_id, display_name=ev.display_name, now=ctx.now,
    )
    ctx.person = await load_profile(ctx.session, person.id)
    await set_chat_state(ctx, AWAIT_PHONE)
    ask_phone(ctx)


def ask_phone(ctx: Ctx) -> None:
    ctx.say(
        ctx.t(
            "You are enrolled. Please share your phone number so that the commune can call you back "
            "when needed. Press the button below or type the number. You may skip this."
        ) if ctx.caps.contact else ctx.t(  # no button that shares a contact on this channel
            "You are enrolled. Please type your phone number so that the commune can call you back when "
            "needed, e.g. 0912 345 678. You may skip this."
        ),
        [Choice(ctx.t("Skip"), "p:skip", control=True, keyword=ctx.t("skip"))],
        ask_contact=True,
        contact_label=ctx.t("Share my phone number"),
    )


async def handle_phone(ctx: Ctx) -> None:
    """The person was asked for a phone number; the answer may be a contact, typed, or skipped."""
    ev = ctx.event
    phone = None
    if ev.kind == "contact" and ev.contact_phone:
        phone = parsing.parse_phone(ev.contact_phone)
    elif ev.choice == "p:skip" or parsing.fold(ev.text or "") in ("bo qua", "skip", "khong"):
        phone = None
    elif ev.text:
        phone = parsing.parse_phone(ev.text)
        if isinstance(phone, parsing.ParseError):
            ctx.say(ctx.t("“{text}” does not look like a phone number. Type it like 0912 345 678, or press Skip.",
                          text=parsing.quotable(ev.text)) if ctx.caps.buttons else
                    ctx.t("“{text}” does not look like a phone number. Type it like 0912 345 678, or type bỏ qua.",
                          text=parsing.quotable(ev.text)))
            ask_phone(ctx)
            return
    else:
        ask_phone(ctx)
        return
    if isinstance(phone, parsing.ParseError):
        phone = None
    values = {"phone_asked": True}
    if phone:
        values["phone_enc"] = ctx.services.keyring.encrypt_text(phone)  # never stored in clear
    await ctx.session.execute(update(Person).where(Person.id == ctx.person.id).values(**values))
    await set_chat_state(ctx, None)
    if phone:
        ctx.say(ctx.t("Thank you, your phone number has been saved."), remove_keyboard=True)
    else:
        ctx.say(ctx.t("No phone number was saved."), remove_keyboard=True)
    greet(ctx)


def describe(ctx: Ctx) -> str:
    person = ctx.person
    roles = [ctx.t(ROLE_NAMES[r]) for r in sorted(person.roles) if r in ROLE_NAMES]
    if "reporter" in person.roles and person.org in ORG_NAMES:
        roles = [ctx.t(ORG_NAMES[person.org])] + [r for r in roles if r != ctx.t(ROLE_NAMES["reporter"])]
    commune = ctx.config.commune(person.commune_id)
    names = [v.name for v in commune.villages if v.id in person.villages] if commune else []
    where = ", ".join(names) or (commune.name if commune else "")
    return ctx.t("{roles} — {where}", roles=", ".join(roles), where=where) if where else ", ".join(roles)


def greet(ctx: Ctx) -> None:
    if ctx.person.name:
        text = ctx.t("Hello {name}! You are registered as: {who}.", name=ctx.person.name, who=describe(ctx))
    else:
        text = ctx.t("Hello! You are registered as: {who}.", who=describe(ctx))
    main_menu(ctx, text, set_commands=True)
