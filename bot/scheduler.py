"""Scheduled work, claimed in the database so that it runs once even with several processes.

Each job is a function of (services, sessions, now) run every `every` seconds; what it does is
decided and queued in one transaction, so a restart neither loses nor repeats it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.events import Reply
from core.i18n import translate
from handlers import features  # noqa: F401 - registers the jobs of every feature
from handlers.context import Services
from handlers.forms.engine import FORMS
from handlers.hygiene import queue_cleanup
from handlers.registry import JOBS, job
from storage import outbox as outbox_store
from storage.drafts import decode_state, discard_draft, expired_drafts
from storage.models import Person

log = logging.getLogger(__name__)

async def expire_drafts(services: Services, sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Discard drafts untouched for too long, telling each person. Each draft is claimed by its row."""
    done = 0
    while True:
        async with sessions() as session, session.begin():
            drafts = await expired_drafts(session, now, limit=50)
            for draft in drafts:
                person = await session.get(Person, draft.person_id)
                lang = person.lang if person else "vi"
                form = FORMS.get(draft.form)
                title = translate(lang, form.title) if form else draft.form
                if draft.sensitive:
                    for chat in decode_state(services.keyring, draft).meta.get("chats", {}).values():
                        queue_cleanup(session, services.keyring, chat, draft.person_id, now=now)
                await discard_draft(session, draft.person_id, draft.slot, keyring=services.keyring)
                text = translate(
                    lang, "Your unfinished draft ({form}) was discarded because it was not touched for a long time. "
                    "You can start again from the menu.", form=title,
                )
                await outbox_store.queue_to_person(session, services.keyring, draft.person_id, Reply(text=text), now=now)
        done += len(drafts)
        if len(drafts) < 50:
            return done


job("expire_drafts", 60)(expire_drafts)


class Scheduler:
    def __init__(self, services: Services, sessions, jobs=None, on_queued=None) -> None:
        self.services = services
        self.sessions = sessions
        self.jobs = jobs if jobs is not None else list(JOBS.values())
        self.on_queued = on_queued or (lambda: None)
        self._last: dict[str, datetime] = {}
        self._stopping = asyncio.Event()

    async def run_due(self) -> int:
        """Run every job whose time has come; returns how many things they did."""
        now = self.services.clock.now()
        total = 0
        for item in self.jobs:
            last = self._last.get(item.name)
            if last is not None and (now - last).total_seconds() < item.every:
                continue
            self._last[item.name] = now
            try:
                total += await item.run(self.services, self.sessions, now)
            except Exception:  # noqa: BLE001 - one job failing must not stop the others
                log.exception("scheduled job %s failed", item.name)
        if total:
            self.on_queued()
        return total

    async def run(self, tick: float = 5.0) -> None:
        while not self._stopping.is_set():
            await self.run_due()
            try:
                await asyncio.wait_for(self._stopping.wait(), tick)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping.set()
