"""Key rotation: a new key first in the key file, every encrypted row re-encrypted in batches
while the bot runs, the old key retired only when no row needs it."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select, update

from storage.crypto import Keyring, KeyringError
from storage.models import CaseText, Draft, InboxEvent, OutboxMessage, Person

# Every encrypted column: (model, its encrypted attribute). Features with secrets add theirs here.
ENCRYPTED = [
    (CaseText, "ciphertext"),
    (Person, "phone_enc"),
    (Draft, "state"),
    (InboxEvent, "payload"),
    (OutboxMessage, "payload"),
]


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
    """Re-encrypt every row not readable with the first key alone; returns how many were changed."""
    changed = 0
    for model, column in ENCRYPTED:
        attr = getattr(model, column)
        last = 0
        while True:
            async with sessions() as session, session.begin():
                rows = (await session.execute(
                    select(model.id, attr).where(model.id > last, attr.is_not(None)).order_by(model.id).limit(batch)
                )).all()
                for row_id, token in rows:
                    if not keyring.first_key_reads(token):
                        await session.execute(update(model).where(model.id == row_id).values({column: keyring.rotate(token)}))
                        changed += 1
            if len(rows) < batch:
                break
            last = rows[-1][0]
    return changed


async def retire_old_keys(sessions, keyring: Keyring) -> bool:
    """Drop every key but the first, once no row needs another. False if some row still does."""
    if await reencrypt(sessions, keyring):
        return False
    first = keyring.path.read_text().split()[0]
    write_keys(keyring.path, [first])
    return True
