"""Drafts: the form a person is answering, and at most one they set aside, encrypted, written at
every step. A case request never waits for another form: it pauses it (slot "paused") instead."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, event, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import object_session
from sqlalchemy.orm.attributes import set_committed_value

from core.events import shallow
from storage import direct
from storage.crypto import Keyring
from storage.db import BotSession, claim_rows
from storage.models import Draft, Photo, UtcDateTime
from storage.step_read import cached_draft, drafts_deleted, forget_drafts, known_drafts

ACTIVE = "active"
PAUSED = "paused"


@dataclass
class DraftState:
    form: str
    answers: dict = field(default_factory=dict)
    cursor: str | None = None  # address of the current question; None on the review screen
    mode: str = "ask"  # ask | review | edit (answering one question from the review)
    meta: dict = field(default_factory=dict)  # e.g. the report being corrected, the case created


@dataclass
class OpenDraft:
    row: Draft
    state: DraftState
    closed: bool = False  # confirmed or cancelled during this event

    def bump_seq(self) -> int:
        """A new question: buttons of the one before no longer count. Returns the new number."""
        _changed(self.row, seq=self.row.seq + 1)
        return self.row.seq


def decode_state(keyring: Keyring, row: Draft) -> DraftState:
    return DraftState(**json.loads(keyring.decrypt(row.state)))


async def load_draft(session: AsyncSession, keyring: Keyring, person_id: int, slot: str = ACTIVE) -> OpenDraft | None:
    hit, row = cached_draft(session, person_id, slot)  # the step's one read (storage/step_read.py)
    if not hit:
        row = await session.scalar(select(Draft).where(Draft.person_id == person_id, Draft.slot == slot))
    if row is None:
        return None
    return OpenDraft(row, decode_state(keyring, row))


def _encode(keyring: Keyring, state: DraftState) -> bytes:
    return keyring.encrypt(json.dumps(shallow(state), ensure_ascii=False, default=str).encode())


async def create_draft(
    session: AsyncSession, keyring: Keyring, person_id: int, state: DraftState, *,
    now: datetime, expires_at: datetime, sensitive: bool, slot: str = ACTIVE,
) -> OpenDraft:
    await discard_draft(session, person_id, slot, keyring=keyring)
    row = Draft(
        person_id=person_id, slot=slot, form=state.form, state=_encode(keyring, state), sensitive=sensitive,
        seq=1, created_at=now, updated_at=now, expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    forget_drafts(session)
    return OpenDraft(row, state)


def save_draft(draft: OpenDraft, keyring: Keyring, *, now: datetime, expires_at: datetime) -> None:
    _changed(draft.row, state=_encode(keyring, draft.state), updated_at=now, expires_at=expires_at)


# A draft changes at nearly every step. Its row is written by one statement built once, at the
# commit, instead of by the ORM's unit of work (which cost more than the UPDATE): the row object
# takes the new values as if loaded, so it stays right for the rest of the step, and is noted in
# the session to be written.
_WRITES = "draft_writes"  # session.info: {id(row): row}
_TABLE = Draft.__table__
_UPDATE = (update(_TABLE).where(_TABLE.c.id == bindparam("p_id"))
           .values(state=bindparam("p_state"), seq=bindparam("p_seq"),
                   updated_at=bindparam("p_updated", type_=UtcDateTime),
                   expires_at=bindparam("p_expires", type_=UtcDateTime)))


_UPDATE_DIRECT = direct.Statement(_UPDATE)


def _changed(row: Draft, **values) -> None:
    session = object_session(row)
    if not isinstance(session, BotSession) or row.id is None:  # not the bot's session: the ORM writes it
        for name, value in values.items():
            setattr(row, name, value)
        return
    for name, value in values.items():
        set_committed_value(row, name, value)
    session.info.setdefault(_WRITES, {})[id(row)] = row


def take_writes(session) -> list[dict]:
    """The drafts changed in this step and not written yet, as the UPDATE's parameters; from now
    on the caller writes them (storage/step_commit.py, or write() below at the commit)."""
    rows = session.info.pop(_WRITES, None)
    if not rows:
        return []
    return [{"p_id": row.id, "p_state": row.state, "p_seq": row.seq, "p_updated": row.updated_at,
             "p_expires": row.expires_at}
            for row in rows.values() if row not in session.deleted and not inspect(row).was_deleted]


def write(session, params: list[dict]) -> None:
    raw = direct.connection_of(session.connection())
    if raw is not None:  # SQLite's writer: straight to sqlite3 (storage/direct.py)
        _UPDATE_DIRECT.run_many(raw, params)
    else:
        session.execute(_UPDATE, params)


@event.listens_for(BotSession, "before_commit")
def _write_drafts(session) -> None:
    params = take_writes(session)
    if params:
        write(session, params)


@event.listens_for(BotSession, "after_rollback")
def _forget_writes(session) -> None:
    session.info.pop(_WRITES, None)


def photo_ids(state: DraftState) -> list[int]:
    """The photos a draft holds: its answers' and those of the question being answered."""
    ids = list(state.answers.get("photos") or []) + list(state.meta.get("pending", {}).get("items") or [])
    return [i for i in ids if isinstance(i, int)]


async def discard_draft(session: AsyncSession, person_id: int, slot: str | None = ACTIVE, *,
                        keyring: Keyring | None = None) -> None:
    """Delete the draft in `slot` (None: every slot) with the photos that only it held."""
    known = known_drafts(session, person_id)  # the step's read of both slots, when it made one
    if known is not None:
        rows = [d for s, d in known.items() if d is not None and (slot is None or s == slot)]
        if not rows:
            return
        remaining = next((d.id for d in known.values() if d is not None and d not in rows), None)
    else:
        stmt = select(Draft).where(Draft.person_id == person_id)
        if slot is not None:
            stmt = stmt.where(Draft.slot == slot)
        rows = list((await session.scalars(stmt)).all())
        if not rows:
            return
        remaining = await session.scalar(select(Draft.id).where(Draft.person_id == person_id,
                                                                Draft.id.not_in([r.id for r in rows])).limit(1))
    photos = delete(Photo).where(Photo.person_id == person_id, Photo.report_id.is_(None))
    if remaining is not None:  # another draft stays: keep its photos, delete only these drafts' own
        if keyring is None:
            photos = None
        else:
            ids = [i for r in rows for i in photo_ids(decode_state(keyring, r))]
            photos = photos.where(Photo.id.in_(ids)) if ids else None
    if photos is not None:
        await session.execute(photos)
    for row in rows:
        await session.delete(row)
    await session.flush()
    if known is not None:  # what the step read still holds, less the drafts deleted
        drafts_deleted(session, person_id, {s for s, d in known.items() if d in rows})
    else:
        forget_drafts(session)


async def pause_draft(session: AsyncSession, keyring: Keyring, draft: OpenDraft) -> None:
    """Set the active draft aside; a draft already paused gives way (the older one is discarded)."""
    await discard_draft(session, draft.row.person_id, PAUSED, keyring=keyring)
    forget_drafts(session)
    draft.row.slot = PAUSED
    await session.flush()


async def unpause_draft(session: AsyncSession, keyring: Keyring, person_id: int) -> OpenDraft | None:
    """Make the paused draft the active one again (the active slot must be free)."""
    draft = await load_draft(session, keyring, person_id, PAUSED)
    forget_drafts(session)
    if draft is not None:
        draft.row.slot = ACTIVE
        await session.flush()
    return draft


async def expired_drafts(session: AsyncSession, now: datetime, limit: int = 100) -> list[Draft]:
    stmt = select(Draft).where(Draft.expires_at <= now).order_by(Draft.expires_at).limit(limit)
    stmt = claim_rows(session, stmt)
    return list((await session.scalars(stmt)).all())
