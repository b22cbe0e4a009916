"""What a handler gets: the event, the person, one database session, and ways to answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.config import Commune, Config
from core.events import PLAIN, Capabilities, Choice, Incoming, Reply
from core.i18n import translate
from storage.crypto import Keyring
from storage.people import Profile


@dataclass(frozen=True)
class Services:
    config: Config
    clock: Clock
    keyring: Keyring
    # What each channel can show, by channel name; the app fills it as channels are added.
    capabilities: dict[str, Capabilities] = field(default_factory=dict)


@dataclass
class Ctx:
    services: Services
    session: AsyncSession
    event: Incoming
    person: Profile | None
    lang: str
    inbox_id: int | None = None  # the stored event being handled
    at: datetime | None = None  # when the event is handled (set on first use of `now`)
    replies: list[Reply] = field(default_factory=list)
    pushes: list[tuple[int, Reply]] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def now(self) -> datetime:
        """One time for the whole event: what it stores and what it queues agree to the microsecond."""
        if self.at is None:
            self.at = self.services.clock.now()
        return self.at

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

    def push(self, person_id: int, reply: Reply) -> None:
        """A message to another person; it leaves through the outbox with this transaction."""
        self.pushes.append((person_id, reply))
