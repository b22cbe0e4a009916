"""What a channel adapter provides. Adapters translate; they decide nothing."""

from __future__ import annotations

from typing import Protocol

from core.events import Delivery, Reply


class Channel(Protocol):
    name: str
    can_edit: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        """Send the reply, skipping the first `done` messages an earlier attempt delivered."""
        ...

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery: ...


def render_plain(reply: Reply) -> str:
    """A reply for channels without buttons: options numbered, controls as words to type."""
    lines = [strip_html(reply.text) if reply.html else reply.text]
    options = [c for c in reply.choices if not c.control]
    if options:
        lines.append("")
        toggles = any(c.selected is not None for c in options)
        for n, choice in enumerate(options, 1):
            mark = ("[x] " if choice.selected else "[ ] ") if toggles else ""
            lines.append(f"{n}. {mark}{choice.label}")
    for choice in (c for c in reply.choices if c.control and c.shortcut):
        lines.append(f"{choice.shortcut}. {choice.label}")
    commands = [c for c in reply.choices if c.control and c.keyword.startswith("/")]
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

