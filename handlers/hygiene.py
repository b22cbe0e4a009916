"""Chat hygiene for sensitive forms: remember which chats a case draft touched, and afterwards
ask each channel that can to delete the questions and answers there (Telegram: within 48 hours,
which is why case drafts live 24)."""

from __future__ import annotations

from datetime import datetime

from core.events import PLAIN, Reply
from handlers.context import ChatAddress, Outgoing


def remember(meta: dict, event, now: datetime) -> None:
    """Note the chat and the person's message in the draft (the draft itself is encrypted)."""
    chats = meta.setdefault("chats", {})
    chat = chats.setdefault(event.conv_key, {
        "channel": event.channel, "account": event.account, "chat_id": event.chat_id,
        "since": now.isoformat(), "ids": [],
    })
    if event.message_id and event.message_id not in chat["ids"]:
        chat["ids"].append(event.message_id)


def cleanup(ctx, meta: dict) -> None:
    """Queue the deletions: in this chat among this event's replies, in other chats directly."""
    for conv, chat in meta.get("chats", {}).items():
        if not _deletes(ctx, chat):
            continue
        reply = Reply(text="", delete={"since": chat["since"], "ids": chat["ids"]})
        if conv == ctx.event.conv_key:
            ctx.replies.append(reply)
        else:
            queue_cleanup(ctx, chat, ctx.person.id)


def _deletes(out: Outgoing, chat: dict) -> bool:
    """Whether the chat's channel can delete messages (Telegram can, within 48 hours)."""
    return out.services.capabilities.get(chat["channel"], PLAIN).delete


def queue_cleanup(out: Outgoing, chat: dict, person_id: int | None) -> None:
    if not _deletes(out, chat):
        return
    out.to_chat(ChatAddress(chat["channel"], chat["account"], chat["chat_id"]),
                Reply(text="", delete={"since": chat["since"], "ids": chat["ids"]}), person_id=person_id)
