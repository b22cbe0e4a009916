"""What a channel adapter provides. Adapters translate; they decide nothing."""

from __future__ import annotations

from core.events import PLAIN, Capabilities, Delivery, Reply, is_action


class Channel:
    """What every adapter is: its name and account, what it can do (`capabilities`, declared once
    and read by handlers from their context, never by channel name), and the runtime's hooks."""

    name: str = ""
    account: str = ""
    capabilities: Capabilities = PLAIN
    per_account: bool = False  # one bot or official account per commune: a chat goes through its own
    reports_status: bool = False  # it calls on_status itself when it connects or loses the platform

    def on_status(self, connected: bool, detail: str = "") -> None:
        """Replaced by the App's hook (bot/channel_status.py) when the channel is added."""

    def routes(self) -> list:
        """aiohttp routes it serves (a webhook), if any."""
        return []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def fetch_photo(self, ref: str) -> bytes | None:
        """The photo an update named (Incoming.photo_ref), downloaded; None when it cannot be. Called
        by the runtime after the update is stored, never before (bot/media.py)."""
        return None

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        """Send the reply, skipping the first `done` messages an earlier attempt delivered."""
        raise NotImplementedError

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery:
        """Only called when capabilities.edit; an adapter that declares it implements it."""
        raise NotImplementedError(f"{self.name} declares edit but does not implement it")

    async def delete(self, chat_id: str, platform_ids: list[str]) -> Delivery:
        """Only called when capabilities.delete; an adapter that declares it implements it."""
        raise NotImplementedError(f"{self.name} declares delete but does not implement it")


def render_plain(reply: Reply, first: int = 1) -> str:
    """A reply for channels without buttons: options and actions numbered from `first` (as
    `Reply.listed` registers them), controls as words to type."""
    lines = [strip_html(reply.text) if reply.html else reply.text]
    listed = reply.listed()
    if listed:
        lines.append("")
        toggles = any(c.selected is not None for c in listed)
        for n, choice in enumerate(listed, first):
            if choice.control:  # an action: its command shown too, to type later
                lines.append(f"{n}. {choice.label}" + (f" ({choice.keyword})" if choice.keyword else ""))
                continue
            mark = ("[x] " if choice.selected else "[ ] ") if toggles else ""
            lines.append(f"{n}. {mark}{choice.label}")
    for choice in (c for c in reply.choices if c.control and c.shortcut):
        lines.append(f"{choice.shortcut}. {choice.label}")
    commands = [c for c in reply.choices if is_action(c) and c.keyword and c not in listed]
    for choice in commands:
        lines.append(f"{choice.keyword} — {choice.label}")
    words = [c.keyword for c in reply.choices
             if c.control and c.keyword and not c.keyword.startswith("/") and not c.shortcut]
    if words:
        lines.append("» " + " · ".join(words))
    return "\n".join(lines)


def strip_html(text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"</?(b|i|u|s|code|pre)>", "", text))

