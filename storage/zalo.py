"""Storage for Zalo and for people on several channels: official-account tokens (encrypted),
messages held while a Zalo OA window is closed, and the one-time codes of /lienket."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.text import CODE_ALPHABET, normalise_code
from storage.crypto import Keyring
from storage.db import upsert_insert
from storage.models import HeldMessage, Identity, Invite, LinkCode, ZaloOAToken

# ---- official-account tokens -------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_at: datetime | None


def _pair(row: ZaloOAToken, keyring: Keyring) -> TokenPair:
    return TokenPair(keyring.decrypt_text(row.access_token), keyring.decrypt_text(row.refresh_token), row.expires_at)


async def load_tokens(session: AsyncSession, keyring: Keyring, account: str, *, lock: bool = False) -> TokenPair | None:
    """The stored pair. With lock=True the row stays locked until the transaction ends (PostgreSQL:
    SELECT ... FOR UPDATE; SQLite's transactions begin IMMEDIATE, which serialises them anyway)."""
    row = await session.get(ZaloOAToken, account, with_for_update=lock, populate_existing=True)
    return _pair(row, keyring) if row is not None else None


async def seed_tokens(session: AsyncSession, keyring: Keyring, account: str, access: str, refresh: str, *,
                      now: datetime) -> None:
    """The pair from the environment. Once stored, the database wins over that same pair (its
    refresh token is used up after the first refresh); a NEW pair put in the environment (the
    account was authorised again) replaces the stored one."""
    digest = hashlib.sha256(refresh.encode()).hexdigest()
    insert = upsert_insert(session)
    await session.execute(
        insert(ZaloOAToken).values(
            account=account, access_token=keyring.encrypt_text(access), refresh_token=keyring.encrypt_text(refresh),
            expires_at=None, updated_at=now, refreshes=0, seed_digest=digest,
        ).on_conflict_do_nothing(index_elements=["account"])
    )
    row = await session.get(ZaloOAToken, account, with_for_update=True, populate_existing=True)
    if row.seed_digest != digest:
        row.access_token, row.refresh_token = keyring.encrypt_text(access), keyring.encrypt_text(refresh)
        row.expires_at, row.updated_at, row.seed_digest = None, now, digest


async def save_tokens(session: AsyncSession, keyring: Keyring, account: str, pair: TokenPair, *,
                      now: datetime) -> None:
    """Replace the pair (in the transaction that holds the row lock)."""
    row = await session.get(ZaloOAToken, account)
    if row is None:
        row = ZaloOAToken(account=account, refreshes=0)
        session.add(row)
    row.access_token = keyring.encrypt_text(pair.access)
    row.refresh_token = keyring.encrypt_text(pair.refresh)
    row.expires_at = pair.expires_at
    row.updated_at = now
    row.refreshes = (row.refreshes or 0) + 1


# ---- messages held until the person writes again ------------------------------------------------


def hold(session: AsyncSession, *, channel: str, account: str, chat_id: str, payload: bytes, now: datetime) -> None:
    session.add(HeldMessage(channel=channel, account=account, chat_id=chat_id, payload=payload, created_at=now))


async def release_held(session: AsyncSession, *, channel: str, account: str, chat_id: str,
                       now: datetime) -> list[bytes]:
    """The held payloads of a chat, oldest first, marked released (and forgotten)."""
    rows = (await session.scalars(
        select(HeldMessage).where(
            HeldMessage.channel == channel, HeldMessage.account == account, HeldMessage.chat_id == chat_id,
            HeldMessage.released_at.is_(None),
        ).order_by(HeldMessage.id)
    )).all()
    out = []
    for row in rows:
        out.append(row.payload)
        row.payload, row.released_at = None, now
    return out


async def last_seen(session: AsyncSession, channel: str, account: str, user_id: str) -> datetime | None:
    """When the person last wrote on this channel account (the Zalo OA window is counted from it)."""
    return await session.scalar(
        select(Identity.last_seen_at).where(
            Identity.channel == channel, Identity.account == account, Identity.external_id == user_id,
        )
    )


# ---- /lienket codes -----------------------------------------------------------------------------

LINK_CODE_LENGTH = 8


async def create_link_code(session: AsyncSession, person_id: int, *, now: datetime, minutes: int) -> str:
    """A fresh single-use code; earlier unused codes of the person stop working."""
    for row in (await session.scalars(
        select(LinkCode).where(LinkCode.person_id == person_id, LinkCode.used_at.is_(None))
    )).all():
        row.used_at = now
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
        if await session.get(LinkCode, code) is None and await session.get(Invite, code) is None:
            break
    session.add(LinkCode(code=code, person_id=person_id, created_at=now, expires_at=now + timedelta(minutes=minutes)))
    await session.flush()
    return code


async def find_link_code(session: AsyncSession, typed: str) -> LinkCode | None:
    return await session.get(LinkCode, normalise_code(typed))


async def redeem_link_code(session: AsyncSession, typed: str, now: datetime) -> int | None:
    """The person a valid code belongs to, the code marked used; None if it is not valid now."""
    row = await session.get(LinkCode, normalise_code(typed), with_for_update=True)
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    return row.person_id
