"""What a handler gets: the event, the person, one database session, and ways to answer."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.config import Commune, Config
from core.events import PLAIN, Capabilities, Choice, Incoming, Reply
from core.i18n import translate
from storage import chatlists, outbox
from storage.crypto import Keyring
from storage.people import Profile, delivery_orders


@dataclass(frozen=True)
class Services:
    config: Config
    clock: Clock
    keyring: Keyring
    # What each channel can show, by channel name; the app fills it as channels are added.
    capabilities: dict[str, Capabilities] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatAddress:
    """One chat on one channel, as the outbox addresses it."""

    channel: str
    account: str
    chat_id: str


WAKE_JOBS = "wake_jobs"  # session.info: see Outgoing.wake_jobs


@dataclass(kw_only=True)
class Outgoing:
    """What a handler or a job sends, said through its context: `push` to a person's preferred
    channel (the outbox tries the others if it fails), `alert` on every channel they have, `to_chat`
    to one chat. It is queued in the context's transaction when the runtime calls `send_queued`,
    never by the domain code itself."""

    services: Services
    session: AsyncSession
    at: datetime | None = None  # when the event or the job's run is handled
    queued: list[tuple[str, object, Reply, str, int | None]] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def now(self) -> datetime:
        """One time for the whole step: what it stores and what it queues agree to the microsecond."""
        if self.at is None:
            self.at = self.services.clock.now()
        return self.at

    def wake_jobs(self) -> None:
        """Work was left for a job (an export to build): the runtime runs the jobs after the commit
        instead of at their next tick."""
        self.session.info[WAKE_JOBS] = True

    async def reachable(self, person_id: int) -> bool:
        """Whether the person has a channel a push can go to."""
        return bool(await outbox.delivery_order(self.session, person_id))

    def push(self, person_id: int, reply: Reply, *, kind: str = "push") -> None:
        self.queued.append(("person", person_id, reply, kind, person_id))

    def alert(self, person_id: int, reply: Reply, *, kind: str = "alert") -> None:
        self.queued.append(("everywhere", person_id, reply, kind, person_id))

    def to_chat(self, chat: ChatAddress, reply: Reply, *, person_id: int | None, kind: str = "reply") -> None:
        self.queued.append(("chat", chat, reply, kind, person_id))

    async def send_queued(self) -> int:
        """Write what was said into the outbox, in this transaction, alerts first (they are read in
        order); how many were reached."""
        alerts = [q for q in self.queued if q[0] == "everywhere"]
        rest = [q for q in self.queued if q[0] != "everywhere"]
        self.queued.clear()
        return await self._write(alerts) + self._write_replies() + await self._write(rest)

    def _write_replies(self) -> int:
        return 0

    async def _write(self, queued) -> int:
        reached = 0
        # Every person's channels read at once: a digest's 3,000 pushes are one read, and the rows
        # are written together, not one by one before each lookup.
        orders = await delivery_orders(self.session, [q[1] for q in queued if q[0] == "person"])
        if queued and all(q[0] in ("person", "chat") for q in queued):  # a broadcast: one statement for its rows
            pushes, listed = [], []
            for how, target, reply, kind, person_id in queued:
                if how == "chat":
                    pushes.append((target, person_id, reply, kind))
                elif orders[target]:
                    pushes.append((orders[target][0], target, reply, kind))
                    listed.append((orders[target][0], reply))
            await outbox.queue_to_people(self.session, self.services.keyring, pushes, now=self.now)
            for identity, reply in listed:
                await self._register(identity.channel, identity.account, identity.external_id, reply)
            return len(pushes)
        for how, target, reply, kind, person_id in queued:
            if how == "person":
                went = await outbox.queue_to_person(self.session, self.services.keyring, target, reply,
                                                    now=self.now, kind=kind, order=orders[target])
                identities = [went] if went else []
            elif how == "everywhere":
                identities = await outbox.queue_to_every_channel(self.session, self.services.keyring, target,
                                                                 reply, now=self.now, kind=kind)
            else:
                outbox.queue_to_chat(self.session, self.services.keyring, channel=target.channel,
                                     account=target.account, chat_id=target.chat_id, person_id=person_id,
                                     reply=reply, now=self.now, kind=kind)
                identities = []
                reached += 1
            reached += bool(identities)
            for identity in identities:
                await self._register(identity.channel, identity.account, identity.external_id, reply)
        return reached

    async def _register(self, channel: str, account: str, user_id: str, reply: Reply) -> None:
        """A list going to a chat without buttons is numbered there: what its numbers mean is
        written now, in this transaction, for that chat."""
        items = chatlists.numbered(reply)
        if items is not None and not self.services.capabilities.get(channel, PLAIN).buttons:
            await chatlists.register(self.session, chatlists.chat_key(channel, account, user_id), items, self.now)


@asynccontextmanager
async def job_step(services: Services, sessions, now: datetime):
    """One transaction of a scheduled job, with a context to say what it sends: the messages are
    queued in that transaction, after the job's own writes."""
    async with sessions() as session, session.begin():
        out = Outgoing(services=services, session=session, at=now)
        yield out
        await out.send_queued()


@dataclass(kw_only=True)
class Ctx(Outgoing):
    """A handler's context: the event, the person, and `say` for answers in the chat the event
    came from (queued in order after any alert, before the other pushes)."""

    event: Incoming
    person: Profile | None
    lang: str
    inbox_id: int | None = None  # the stored event being handled
    replies: list[Reply] = field(default_factory=list)
    readers: object = None  # a factory of read-only sessions on the same database (storage.db.reading)

    @asynccontextmanager
    async def reading(self):
        """A read-only transaction beside the step's, for a long read (a command's figures): on
        SQLite it neither holds nor waits for the single writer, whose statements run on the event
        loop's thread (storage/sqlite_inline.py). It sees what is committed, not this step's own
        writes. Without a factory (a job's context), the step's session itself."""
        if self.readers is None:
            yield self.session
            return
        async with self.readers() as session, session.begin():
            yield session

    @property
    def caps(self) -> Capabilities:
        """What the chat this event came from can show."""
        return self.services.capabilities.get(self.event.channel, PLAIN)

    @property
    def commune(self) -> Commune:
        """The person's commune; people of no commune (province) see the first one's calendar."""
        cid = self.person.commune_id if self.person else None
        return self.config.commune(cid) or self.config.communes[0]

    @property
    def today(self) -> date:
        return self.now.astimezone(self.commune.tz).date()

    def t(self, msgid: str, **params) -> str:
        return translate(self.lang, msgid, **params)

    def say(self, text: str, choices: list[Choice] | tuple[Choice, ...] = (), **kwargs) -> None:
        self.replies.append(Reply(text=text, choices=tuple(choices), **kwargs))

    def _write_replies(self) -> int:
        person_id = self.person.id if self.person else None
        for reply in self.replies:
            outbox.queue_to_chat(self.session, self.services.keyring, channel=self.event.channel,
                                 account=self.event.account, chat_id=self.event.chat_id, person_id=person_id,
                                 reply=reply, now=self.now)
        return len(self.replies)
