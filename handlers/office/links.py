"""Files for channels that cannot carry them: stored encrypted, served by the bot's HTTP server
behind a signed link that expires.

The link's token is (file id, expiry) sealed with the keyring (AES-256-GCM, storage/crypto.py), as
URL-safe text: authenticated, so it cannot be forged or altered, and it still verifies after a key
rotation (every key of the keyring is tried). Links an earlier release signed (Fernet tokens) still
verify until they expire.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import delete

from handlers.registry import HttpAnswer, job, route
from storage import retention
from storage.crypto import Keyring, KeyringError
from storage.db import reading
from storage.models import SharedFile

log = logging.getLogger(__name__)

async def store_file(session, keyring: Keyring, *, commune_id: str | None, name: str, mime: str, data: bytes,
                     now: datetime, days: int) -> tuple[int, datetime]:
    row = SharedFile(commune_id=commune_id, name=name[:120], mime=mime, data=keyring.encrypt(data), created_at=now,
                     expires_at=now + timedelta(days=days))
    session.add(row)
    await session.flush()
    return row.id, row.expires_at


def sign(keyring: Keyring, file_id: int, expires_at: datetime) -> str:
    payload = json.dumps({"f": file_id, "e": int(expires_at.timestamp())}).encode()
    return keyring.encrypt_token(payload)


def verify(keyring: Keyring, token: str, now: datetime) -> int | None:
    """The file id a token names, or None if it is forged, altered or expired."""
    try:
        data = json.loads(keyring.decrypt_token(token))
        file_id, expires = int(data["f"]), int(data["e"])
    except (KeyringError, ValueError, KeyError, TypeError):
        return None
    return file_id if now.timestamp() < expires else None


def base_url(config) -> str:
    return config.http.public_url or f"http://{config.http.host}:{config.http.port}"


async def link(session, services, *, commune_id: str | None, name: str, mime: str, data: bytes, now: datetime) -> str:
    file_id, expires = await store_file(session, services.keyring, commune_id=commune_id, name=name, mime=mime,
                                        data=data, now=now, days=services.config.digest.link_days)
    return f"{base_url(services.config)}/files/{quote(sign(services.keyring, file_id, expires))}"


@route("GET", "/files/{token}")
async def serve(services, sessions, params: dict[str, str], now) -> HttpAnswer:
    """A signed link's file, or why not."""
    file_id = verify(services.keyring, params["token"], now)
    if file_id is None:
        return HttpAnswer(403, b"This link is not valid or has expired.")
    async with reading(sessions)() as session:  # a read: no write lock on SQLite
        row = await session.get(SharedFile, file_id)
    if row is None:
        return HttpAnswer(404, b"This file no longer exists.")
    return HttpAnswer(200, services.keyring.decrypt(row.data), row.mime, {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.name)}",
        "Cache-Control": "no-store",
    })


@job("expire_shared_files", 3600)
async def expire_files(services, sessions, now: datetime) -> int:
    async with sessions() as session, session.begin():
        await session.execute(delete(SharedFile).where(SharedFile.expires_at <= now))
        await retention.expire_blobs(session, now)  # the files queued messages carried, long delivered
    return 0  # nothing was queued
