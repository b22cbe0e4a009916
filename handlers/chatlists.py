"""What the numbers of the last list a chat was shown mean, kept in the database.

On a channel without buttons every list is drawn numbered; the person answers "2" or the
option's words. A reply that shows numbered choices registers them for its chat; a form's own
question takes the floor back (the form parses its answers itself). A number that no longer
matches the list gets "the list has changed" and the list again, never a guess.
"""

from __future__ import annotations

import re

from core.events import Choice
from handlers import parsing
from handlers.context import Ctx
from storage.chatlists import numbered, register
from storage.models import ChatList
from storage.step_read import known

STALE = "stale"
_NUMBER = re.compile(r"\d{1,3}")


def _is_form_question(tag: str | None) -> bool:
    return bool(tag) and tag.startswith("q")


async def remember(ctx: Ctx) -> None:
    """After a handler ran: the last numbered list among its replies is what numbers mean now."""
    latest = None
    for reply in ctx.replies:
        if _is_form_question(reply.tag):
            latest = []
        elif (items := numbered(reply)) is not None:
            latest = items
    if latest is not None:
        await register(ctx.session, ctx.event.conv_key, latest, ctx.now)


async def resolve(ctx: Ctx, text: str, *, form_waiting: bool) -> str | None:
    """The button data the typed text names in the chat's list, STALE, or None (not about a list)."""
    row = await known(ctx.session, ChatList, ctx.event.conv_key)
    if row is None:
        return None
    folded = parsing.fold(text)
    if not row.items:
        if form_waiting:
            return None  # the form's question took the floor: the form reads the answer
        # The list was replaced by a form that has ended since: a bare number is a leftover.
        return STALE if _NUMBER.fullmatch(folded) else None
    labels = [label for _, label in row.items]
    hit = parsing.parse_choices(text, labels, multi=False)
    if hit is not None:
        return row.items[hit[0]][0]
    if _NUMBER.fullmatch(folded):
        return STALE
    return None


async def show_again(ctx: Ctx) -> None:
    """"The list has changed": the current list, numbered again."""
    row = await known(ctx.session, ChatList, ctx.event.conv_key)
    typed = parsing.fold(ctx.event.text or "")
    if row is not None and row.items and _NUMBER.fullmatch(typed) and int(typed) > len(row.items):
        # The list showing is still the one: the number is past its end ("23" of 22 villages).
        ctx.say(ctx.t("The list has no number {n}: choose from 1 to {last}.", n=int(typed), last=len(row.items)))
    else:
        ctx.say(ctx.t("The list has changed, or it has no such number."))
    if row is not None and row.items:
        ctx.say(ctx.t("Here is the current list:"), [Choice(label, data) for data, label in row.items])


async def show_current(ctx: Ctx) -> None:
    """The chat's numbered list again, if one is showing (after help, say)."""
    row = await known(ctx.session, ChatList, ctx.event.conv_key)
    if row is not None and row.items:
        ctx.say(ctx.t("Here is the current list:"), [Choice(label, data) for data, label in row.items])
