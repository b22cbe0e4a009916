"""/lienket: one person on several messengers.

A person enrolled on one channel sends /lienket there and gets a one-time code; typed on another
channel ("/lienket CODE", or just the code), it attaches that account to the same person. From
then on their drafts, reports, alerts and roles are shared, and their events are handled in one
order whichever messenger they came from (bot/inbox.py: order_key).
"""

from __future__ import annotations

from core.events import Reply
from core.i18n import N_
from handlers import enrolment, parsing
from handlers.context import Ctx
from handlers.registry import command
from storage import invites
from storage.models import Person
from storage.people import attach_identity, load_profile
from storage.zalo import create_link_code, find_link_code, redeem_link_code

LINK_MINUTES = 30
CHANNEL_NAMES = {"telegram": "Telegram", "zalo_bot": "Zalo", "zalo_oa": "Zalo OA", "terminal": "terminal"}


@command("lienket", N_("Link another messenger (Zalo, Telegram) to your account"), order=97, in_menu=False)
async def link(ctx: Ctx, arg: str) -> None:
    if arg.strip():
        ctx.say(ctx.t("This messenger is already registered. To add another one, send /lienket here and type "
                      "the code it shows in the other messenger."))
        return
    code = await create_link_code(ctx.session, ctx.person.id, now=ctx.now, minutes=LINK_MINUTES)
    ctx.say(ctx.t("To use the bot from another messenger as well (Zalo or Telegram), open the bot there and "
                  "send:\n/lienket {code}\nThe code works once, within {minutes} minutes. Your drafts, reports "
                  "and alerts are then the same on both.", code=code, minutes=LINK_MINUTES))


async def stranger_links(ctx: Ctx) -> bool:
    """The enrolment hook: a code from /lienket typed by someone not yet known on this channel."""
    ev = ctx.event
    if ev.kind != "text" or not ev.text:
        return False
    head, _, arg = ev.text.strip().partition(" ")
    if parsing.fold(head) in ("/lienket", "lienket"):
        if not arg.strip():
            ctx.say(ctx.t("Please type the code that /lienket showed in the messenger where you are registered, "
                          "like this: /lienket CODE"))
        else:
            await _redeem(ctx, arg)
        return True
    if parsing.looks_like_code(ev.text) and await find_link_code(ctx.session, ev.text) is not None:
        await _redeem(ctx, ev.text)
        return True
    return False


enrolment.STRANGER_HOOKS.append(stranger_links)


async def _redeem(ctx: Ctx, typed: str) -> None:
    key = ctx.event.conv_key
    if await enrolment.bot_is_full(ctx):
        return  # a full Zalo bot takes nobody new, linked or not; the code still works elsewhere
    if await invites.failures_in_last_hour(ctx.session, key, ctx.now) >= invites.MAX_FAILURES_PER_HOUR:
        ctx.say(ctx.t("Too many wrong codes. Please try again in an hour, or ask the office for a new code."))
        return
    person_id = await redeem_link_code(ctx.session, typed, ctx.now)
    person = await ctx.session.get(Person, person_id) if person_id is not None else None
    if person is None or not person.active:
        await invites.record_failure(ctx.session, key, ctx.now)
        ctx.say(ctx.t("That link code is not valid: it may be mistyped, already used or expired. Send /lienket "
                      "again in the messenger where you are registered to get a new one."))
        return
    ev = ctx.event
    await attach_identity(
        ctx.session, person.id, channel=ev.channel, account=ev.account, external_id=ev.user_id,
        chat_id=ev.chat_id, display_name=ev.display_name, now=ctx.now,
    )
    await enrolment.set_chat_state(ctx, None)
    ctx.person = await load_profile(ctx.session, person.id)
    ctx.lang = ctx.person.lang
    ctx.say(ctx.t("This messenger is now linked to your account. Your drafts, reports and alerts are shared "
                  "between your messengers."))
    enrolment.greet(ctx)
    # The other messenger hears of it too: a code passed to the wrong person must not go unnoticed.
    ctx.push(person.id, Reply(text=ctx.t(
        "{channel} has been linked to your account. If that was not you, tell the administrator at once.",
        channel=CHANNEL_NAMES.get(ev.channel, ev.channel))))
