"""Single-use, expiring invite codes, and the count of wrong guesses per chat."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.text import CODE_ALPHABET, normalise_code
from storage.models import FailedCode, Invite

CODE_LENGTH = 8
MAX_FAILURES_PER_HOUR = 5


async def create_invite(
    session: AsyncSession,
    *,
    now: datetime,
    days: int,
    commune_id: str | None,
    roles: list[str],
    villages: list[str],
    org: str | None,
    name: str = "",
    created_by: int | None = None,
) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if await session.get(Invite, code) is None:
            break
    session.add(
        Invite(
            code=code, commune_id=commune_id, roles=sorted(set(roles)), villages=list(dict.fromkeys(villages)),
            org=org, name=name, created_by=created_by, created_at=now, expires_at=now + timedelta(days=days),
        )
    )
    await session.flush()
    return code


async def failures_in_last_hour(session: AsyncSession, chat_key: str, now: datetime) -> int:
    return await session.scalar(
        select(func.count()).select_from(FailedCode).where(
            FailedCode.chat_key == chat_key, FailedCode.at > now - timedelta(hours=1)
        )
    ) or 0


async def record_failure(session: AsyncSession, chat_key: str, now: datetime) -> None:
    session.add(FailedCode(chat_key=chat_key, at=now))
    await session.execute(delete(FailedCode).where(FailedCode.at < now - timedelta(days=1)))


async def redeem(session: AsyncSession, typed: str, now: datetime) -> Invite | None:
    """The invite for a typed code if it is valid now, marked used; None otherwise."""
    invite = await session.get(Invite, normalise_code(typed), with_for_update=True)
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    invite.used_at = now
    return invite
