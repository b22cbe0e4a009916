"""An in-memory channel with buttons, for whole conversations in a few lines (after Errbot's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from bot.channels.base import Channel, render_plain
from core.events import Capabilities, Delivery, Incoming, Reply

_events = count(1)


@dataclass
class Message:
    id: int
    reply: Reply
    edits: list[Reply] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.reply.text

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.reply.choices]


class FakeChannel(Channel):
    name = "fake"
    account = "test"
    # Like Telegram, but it carries neither files nor deletions unless a test declares them (declare()).
    capabilities = Capabilities(buttons=100, toggles=True, edit=True, photos=True, contact=True, location=True)

    def __init__(self) -> None:
        self.chats: dict[str, list[Message]] = {}
        self.deleted: dict[str, list[str]] = {}
        self._ids = count(1)
        self.fail_next: list[Delivery] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        if self.fail_next:
            return self.fail_next.pop(0)
        msg = Message(next(self._ids), reply)
        self.chats.setdefault(chat_id, []).append(msg)
        return Delivery(ok=True, platform_ids=[str(msg.id)])

    async def edit(self, chat_id: str, platform_id: str, reply: Reply) -> Delivery:
        for msg in self.chats.get(chat_id, []):
            if str(msg.id) == platform_id:
                msg.edits.append(msg.reply)
                msg.reply = reply
        return Delivery(ok=True, platform_ids=[platform_id])


    async def delete(self, chat_id: str, platform_ids: list[str]) -> Delivery:
        self.deleted.setdefault(chat_id, []).extend(platform_ids)
        self.chats[chat_id] = [m for m in self.chats.get(chat_id, []) if str(m.id) not in platform_ids]
        return Delivery(ok=True)


class User:
    """A person on the fake channel. Each action returns the texts of the new messages."""

    channel = "fake"

    def __init__(self, app, user_id: str = "u1", name: str = "Nguyễn Văn An") -> None:
        self.app = app
        self.user_id = user_id
        self.name = name

    @property
    def messages(self) -> list[Message]:
        return self.app.fake.chats.get(self.user_id, [])

    @property
    def last(self) -> Message:
        return self.messages[-1]

    async def _send(self, **kwargs) -> list[str]:
        before = len(self.messages)
        self.app.clock.advance(seconds=2)  # nobody types or presses faster than this
        key = kwargs.pop("dedup_key", None) or f"e{next(_events)}"
        event = Incoming(
            channel=self.channel, account="test", user_id=self.user_id, chat_id=self.user_id, dedup_key=key,
            display_name=self.name, message_id=None if "choice" in kwargs else f"m-{key}", **kwargs,
        )
        await self.app.inbox.put(event)
        await self.settle()
        return [m.text for m in self.messages[before:]]

    async def settle(self) -> None:
        await self.app.router.run_until_idle()
        if self.app.scheduler.woken:  # a step left work for a job (an export): run it, as the loop would
            await self.app.scheduler.run_job("exports")
        await self.app.outbox.drain()

    async def say(self, text: str, **kwargs) -> list[str]:
        return await self._send(text=text, kind="text", **kwargs)

    def button(self, label: str):
        """The newest message's button whose label contains `label`."""
        for msg in reversed(self.messages):
            for choice in msg.reply.choices:
                if label == choice.label or label in choice.label:
                    return choice
        raise AssertionError(f"no button {label!r}; last message: {self.last.text!r} {self.last.labels}")

    async def press(self, label: str) -> list[str]:
        return await self._send(choice=self.button(label).data, kind="choice")

    async def press_data(self, data: str) -> list[str]:
        return await self._send(choice=data, kind="choice")

    async def photo(self, data: bytes) -> list[str]:
        return await self._send(photo=data, kind="photo")

    async def contact(self, phone: str) -> list[str]:
        return await self._send(contact_phone=phone, kind="contact")

    async def other(self, kind: str) -> list[str]:
        return await self._send(kind=kind)


class PlainMessage(Message):
    @property
    def text(self) -> str:
        """What the person reads: the numbered list the Zalo Bot and the terminal draw."""
        return render_plain(self.reply)


class PlainChannel(FakeChannel):
    """Like the Zalo Bot: no buttons, no edits, no deletions; choices as numbered lists, typed back."""

    name = "plain"
    capabilities = Capabilities(photos=True)

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        if self.fail_next:
            return self.fail_next.pop(0)
        if reply.delete is not None:
            return Delivery(ok=True)
        msg = PlainMessage(next(self._ids), reply)
        self.chats.setdefault(chat_id, []).append(msg)
        return Delivery(ok=True, platform_ids=[str(msg.id)])


class PlainUser(User):
    """A person on the plain channel: they can only type."""

    channel = "plain"

    @property
    def messages(self) -> list[Message]:
        return self.app.plain.chats.get(self.user_id, [])

    async def press(self, label: str) -> list[str]:
        raise AssertionError("there are no buttons on a plain channel: type the number or the words")


def declare(app, channel, **capabilities) -> None:
    """Let a test channel do more (files=True, delete=True): for the handlers and the outbox alike."""
    from dataclasses import replace

    channel.capabilities = replace(channel.capabilities, **capabilities)
    app.services.capabilities[channel.name] = channel.capabilities
