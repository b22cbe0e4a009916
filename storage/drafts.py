"""Drafts: an unfinished form per person, encrypted, written at every step."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import Keyring
from storage.models import Draft, Photo


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


def decode_state(keyring: Keyring, row: Draft) -> DraftState:
    return DraftState(**json.loads(keyring.decrypt(row.state)))


async def load_draft(session: AsyncSession, keyring: Keyring, person_id: int) -> OpenDraft | None:
    row = await session.scalar(select(Draft).where(Draft.person_id == person_id))
    if row is None:
        return None
    return OpenDraft(row, decode_state(keyring, row))


def _encode(keyring: Keyring, state: DraftState) -> bytes:
    return keyring.encrypt(json.dumps(asdict(state), ensure_ascii=False, default=str).encode())


async def create_draft(
    session: AsyncSession, keyring: Keyring, person_id: int, state: DraftState, *,
    now: datetime, expires_at: datetime, sensitive: bool,
) -> OpenDraft:
    await discard_draft(session, person_id)
    row = Draft(
        person_id=person_id, form=state.form, state=_encode(keyring, state), sensitive=sensitive,
        seq=1, created_at=now, updated_at=now, expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return OpenDraft(row, state)


def save_draft(draft: OpenDraft, keyring: Keyring, *, now: datetime, expires_at: datetime) -> None:
    draft.row.state = _encode(keyring, draft.state)
    draft.row.updated_at = now
    draft.row.expires_at = expires_at


async def discard_draft(session: AsyncSession, person_id: int) -> None:
    row = await session.scalar(select(Draft).where(Draft.person_id == person_id))
    if row is None:
        return
    await session.execute(delete(Photo).where(Photo.person_id == person_id, Photo.report_id.is_(None)))
    await session.delete(row)
    await session.flush()


async def expired_drafts(session: AsyncSession, now: datetime, limit: int = 100) -> list[Draft]:
    stmt = select(Draft).where(Draft.expires_at <= now).order_by(Draft.expires_at).limit(limit)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.scalars(stmt)).all())
