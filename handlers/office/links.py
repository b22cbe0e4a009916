"""Files for channels that cannot carry them: stored encrypted, served by the bot's HTTP server
behind a signed link that expires.

The link's token is a Fernet token of (file id, expiry) made with the keyring: authenticated with
HMAC-SHA256 under the signing half of the first key, so it cannot be forged or altered, and it
still verifies after a key rotation (every key of the keyring is tried).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import delete

from bot.http import ROUTE_FACTORIES
from handlers.registry import job
from storage.crypto import Keyring, KeyringError
from storage.models import SharedFile

log = logging.getLogger(__name__)

# Channels whose adapters carry files. Everything else (the terminal, Zalo) gets a link instead.
FILE_CHANNELS: set[str] = {"telegram"}


def sends_files(channel: str) -> bool:
    return channel in FILE_CHANNELS


async def store_file(session, keyring: Keyring, *, commune_id: str | None, name: str, mime: str, data: bytes,
                     now: datetime, days: int) -> tuple[int, datetime]:
    row = SharedFile(commune_id=commune_id, name=name[:120], mime=mime, data=keyring.encrypt(data), created_at=now,
                     expires_at=now + timedelta(days=days))
    session.add(row)
    await session.flush()
    return row.id, row.expires_at


def sign(keyring: Keyring, file_id: int, expires_at: datetime) -> str:
    payload = json.dumps({"f": file_id, "e": int(expires_at.timestamp())}).encode()
    return keyring.encrypt(payload).decode()


def verify(keyring: Keyring, token: str, now: datetime) -> int | None:
    """The file id a token names, or None if it is forged, altered or expired."""
    try:
        data = json.loads(keyring.decrypt(token.encode()))
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


def routes(app) -> list:
    async def serve(request: web.Request) -> web.Response:
        file_id = verify(app.services.keyring, request.match_info["token"], app.clock.now())
        if file_id is None:
            return web.Response(status=403, text="This link is not valid or has expired.")
        async with app.sessions() as session:
            row = await session.get(SharedFile, file_id)
        if row is None:
            return web.Response(status=404, text="This file no longer exists.")
        body = app.services.keyring.decrypt(row.data)
        return web.Response(body=body, content_type=row.mime, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.name)}",
            "Cache-Control": "no-store",
        })

    return [web.get("/files/{token}", serve)]


ROUTE_FACTORIES.append(routes)


@job("expire_shared_files", 3600)
async def expire_files(services, sessions, now: datetime) -> int:
    async with sessions() as session, session.begin():
        await session.execute(delete(SharedFile).where(SharedFile.expires_at <= now))
    return 0  # nothing was queued
