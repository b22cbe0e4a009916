"""Chat hygiene for sensitive forms: remember which chats a case draft touched, and afterwards
ask each channel that can to delete the questions and answers there (Telegram: within 48 hours,
which is why case drafts live 24)."""

from __future__ import annotations

from datetime import datetime

from core.events import Reply
from storage import outbox

CHANNELS_THAT_DELETE = frozenset({"telegram"})


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
        if chat["channel"] not in CHANNELS_THAT_DELETE:
            continue
        reply = Reply(text="", delete={"since": chat["since"], "ids": chat["ids"]})
        if conv == ctx.event.conv_key:
            ctx.replies.append(reply)
        else:
            queue_cleanup(ctx.session, ctx.services.keyring, chat, ctx.person.id, now=ctx.now)


def queue_cleanup(session, keyring, chat: dict, person_id: int | None, *, now: datetime) -> None:
    if chat["channel"] not in CHANNELS_THAT_DELETE:
        return
    outbox.queue_to_chat(
        session, keyring, channel=chat["channel"], account=chat["account"], chat_id=chat["chat_id"],
        person_id=person_id, reply=Reply(text="", delete={"since": chat["since"], "ids": chat["ids"]}), now=now,
    )
