"""The number register of a chat without buttons: what each number of the last list it was shown
means (handlers/chatlists.py reads it). Written in the transaction that queues the list, for the
chat it goes to, so a typed "2" is read against what that person actually saw."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Reply
from storage.models import ChatList
from storage.step_read import known


def chat_key(channel: str, account: str, user_id: str) -> str:
    """The register's key: one per person per channel account (Incoming.conv_key)."""
    return f"{channel}:{account}:{user_id}"


def numbered(reply: Reply) -> list[list[str]] | None:
    """The [data, label] pairs a reply numbers on a channel without buttons, or None if it shows no
    list (an edit never replaces what the numbers mean)."""
    options = [[c.data, c.label] for c in reply.listed()]
    return options if options and not reply.edit else None


async def register(session: AsyncSession, key: str, items: list[list[str]], now: datetime) -> None:
    """The chat's numbers now mean `items`; an empty list: a form's question took the floor."""
    row = await known(session, ChatList, key)
    if row is None:
        if not items:
            return
        row = ChatList(chat_key=key, seq=0, items=[], shown_at=now)
        session.add(row)
    if row.items or items:
        row.seq += 1
        row.items, row.shown_at = items, now
