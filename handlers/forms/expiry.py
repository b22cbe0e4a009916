"""Drafts untouched for too long are discarded, and their person told (a case draft's chats are
cleaned as when it is sent). Each draft is claimed by its row, so two processes never both do it."""

from __future__ import annotations

from datetime import datetime

from core.events import Reply
from core.i18n import translate
from handlers.context import Services, job_step
from handlers.forms.engine import FORMS
from handlers.hygiene import queue_cleanup
from handlers.registry import job
from storage.drafts import decode_state, discard_draft, expired_drafts
from storage.models import Person

BATCH = 50


@job("expire_drafts", 60)
async def expire_drafts(services: Services, sessions, now: datetime) -> int:
    done = 0
    while True:
        async with job_step(services, sessions, now) as out:
            drafts = await expired_drafts(out.session, now, limit=BATCH)
            for draft in drafts:
                person = await out.session.get(Person, draft.person_id)
                lang = person.lang if person else "vi"
                form = FORMS.get(draft.form)
                title = translate(lang, form.title) if form else draft.form
                if draft.sensitive:
                    for chat in decode_state(services.keyring, draft).meta.get("chats", {}).values():
                        queue_cleanup(out, chat, draft.person_id)
                await discard_draft(out.session, draft.person_id, draft.slot, keyring=services.keyring)
                # remove_keyboard: a share-my-phone keyboard the draft's question put up goes with it
                # (its buttons type words, "Hủy" among them, into whatever comes next).
                out.push(draft.person_id, Reply(text=translate(
                    lang, "Your unfinished draft ({form}) was discarded because it was not touched for a long time. "
                    "You can start again from the menu.", form=title), remove_keyboard=True))
        done += len(drafts)
        if len(drafts) < BATCH:
            return done
