"""A chat in the terminal through the same handlers: a demo with no platform account."""

from __future__ import annotations

import asyncio
import sys
import threading
from itertools import count
from pathlib import Path

from bot.channels.base import Channel, render_plain
from core.events import Delivery, Incoming, Reply

DEMO_USER = "demo"


class TerminalChannel(Channel):
    """The person at the keyboard is `user`; the other demo people share the terminal, and what the
    bot sends them is printed with its recipient (`labels`: chat id → "Công an xã, Nguyễn Văn A")."""

    name = "terminal"
    account = "local"

    def __init__(self, inbox, *, user: str = DEMO_USER, labels: dict[str, str] | None = None,
                 mailbox: Path | None = None, stdin=None, stdout=None) -> None:
        self.inbox = inbox
        self.user = user
        self.labels = labels or {}
        # What was printed for the others is also kept, per chat, in this folder, and shown when
        # that person next opens the demo (the demo's own messages only; nothing real is in it).
        self.mailbox = mailbox
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self._ids = count(1)
        self.closed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._read_lines, daemon=True, name="terminal-input").start()

    async def stop(self) -> None:
        self.closed.set()

    def _read_lines(self) -> None:
        for line in iter(self.stdin.readline, ""):
            text = line.rstrip("\r\n")
            if text.strip():
                asyncio.run_coroutine_threadsafe(self._put(text), self._loop).result()
            else:  # nothing to answer, but the prompt comes back, so it does not look frozen
                self._loop.call_soon_threadsafe(self._prompt)
        self._loop.call_soon_threadsafe(self.closed.set)

    async def greet(self) -> None:
        await self._put("/start")

    async def _put(self, text: str) -> None:
        seq = next(self._ids)
        await self.inbox.put(
            Incoming(
                channel=self.name, account=self.account, user_id=self.user, chat_id=self.user,
                dedup_key=f"{id(self)}-{seq}", text=text, kind="text", display_name="Demo",
            )
        )

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        text = render_plain(reply)
        if reply.photo:
            text += "\n[ảnh / photo]"
        if reply.file:
            text += f"\n[tệp / file: {reply.file[0]}]"
        if chat_id == self.user:
            self._print(text)
        else:
            self._print_for(self.labels.get(chat_id, chat_id), text)
            self.keep_for(chat_id, text)
        return Delivery(ok=True, platform_ids=[str(next(self._ids))])

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery:
        return Delivery(ok=True)

    def _prompt(self) -> None:
        self.stdout.write("> ")
        self.stdout.flush()

    def _print(self, text: str) -> None:
        self.stdout.write("\n" + text + "\n> ")
        self.stdout.flush()

    def keep_for(self, chat_id: str, text: str) -> None:
        if self.mailbox is None:
            return
        self.mailbox.mkdir(parents=True, exist_ok=True)
        with (self.mailbox / f"{chat_id}.txt").open("a", encoding="utf-8") as box:
            box.write(text + "\n\n")

    def show_kept(self) -> None:
        """What the bot sent this person while the demo ran as someone else, then forgotten."""
        box = self.mailbox / f"{self.user}.txt" if self.mailbox is not None else None
        if box is None or not box.exists():
            return
        kept = box.read_text(encoding="utf-8").strip()
        box.unlink()
        if kept:
            self._print("— Tin nhắn đến khi anh/chị đang dùng vai khác / received while you were someone else —\n\n"
                        + kept + "\n—")

    def _print_for(self, label: str, text: str) -> None:
        prefix = f"[DEMO → {label}] "
        self.stdout.write("\n" + prefix + text.replace("\n", "\n" + prefix) + "\n> ")
        self.stdout.flush()


class DemoPrinter(Channel):
    """In the demo, messages for other people are printed instead of sent."""


    def __init__(self, stdout=None) -> None:
        self.stdout = stdout or sys.stdout

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        self.stdout.write("\n[DEMO] " + render_plain(reply).replace("\n", "\n[DEMO] ") + "\n> ")
        self.stdout.flush()
        return Delivery(ok=True, platform_ids=["demo"])

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery:
        return Delivery(ok=True)
