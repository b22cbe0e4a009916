"""Key rotation: a new key first in the key file, every encrypted row re-encrypted in batches
while the bot runs, the old key retired only when no row needs it. Rows an earlier release
encrypted with Fernet are re-sealed too (storage/crypto.py), whichever key they are under."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import and_, select, tuple_, update

from storage.crypto import Keyring, KeyringError
from storage.models import (
    CaseText,
    DigestPart,
    Draft,
    ExportRequest,
    HeldMessage,
    InboxEvent,
    OutboxBlob,
    OutboxMessage,
    Person,
    SharedFile,
    ZaloOAToken,
)

# Every encrypted column: (model, its encrypted attribute). Features with secrets add theirs here;
# tests/test_crypto.py fails on a binary column that is in neither this list nor PLAIN_BINARY.
ENCRYPTED = [
    (CaseText, "ciphertext"),
    (Person, "phone_enc"),
    (Draft, "state"),
    (InboxEvent, "payload"),
    (OutboxMessage, "payload"),
    (DigestPart, "payload"),
    (ExportRequest, "event"),
    (OutboxBlob, "data"),
    (SharedFile, "data"),
    (ZaloOAToken, "access_token"),
    (ZaloOAToken, "refresh_token"),
    (HeldMessage, "payload"),
]
PLAIN_BINARY = {("photos", "data")}  # cleaned pictures (EXIF removed), kept as they are shown


def write_keys(path: Path, keys: list[str]) -> None:
    """Atomically, mode 0600: running processes see either the old file or the new one."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(keys) + "\n")
    os.replace(tmp, path)


def add_new_key(keyring: Keyring) -> None:
    if keyring.from_environment:
        raise KeyringError("the keys come from BOT_SECRET_KEY: rotate by setting BOT_SECRET_KEY=NEW,OLD, "
                           "running rotate-key, then BOT_SECRET_KEY=NEW")
    old = [k.strip() for k in keyring.path.read_text().splitlines() if k.strip() and not k.startswith("#")]
    write_keys(keyring.path, [Fernet.generate_key().decode(), *old])


async def reencrypt(sessions, keyring: Keyring, batch: int = 200) -> int:
    """Re-encrypt every row not readable with the first key alone; returns how many were changed.
    Rows are walked in primary-key order, a batch per transaction (composite keys too)."""
    changed = 0
    for model, column in ENCRYPTED:
        attr = getattr(model, column)
        keys = list(model.__table__.primary_key.columns)
        key_of = tuple_(*keys) if len(keys) > 1 else keys[0]
        last = None
        while True:
            async with sessions() as session, session.begin():
                query = select(*keys, attr).where(attr.is_not(None)).order_by(*keys).limit(batch)
                if last is not None:
                    query = query.where(key_of > (tuple_(*last) if len(keys) > 1 else last[0]))
                rows = (await session.execute(query)).all()
                for row in rows:
                    token = row[-1]
                    if not keyring.first_key_reads(token):
                        where = and_(*(k == v for k, v in zip(keys, row[:-1], strict=True)))
                        await session.execute(update(model).where(where).values({column: keyring.rotate(token)}))
                        changed += 1
            if len(rows) < batch:
                break
            last = tuple(rows[-1][:-1])
    return changed


async def retire_old_keys(sessions, keyring: Keyring) -> bool:
    """Drop every key but the first, once no row needs another. False if some row still does."""
    if await reencrypt(sessions, keyring):
        return False
    first = keyring.path.read_text().split()[0]
    write_keys(keyring.path, [first])
    return True
