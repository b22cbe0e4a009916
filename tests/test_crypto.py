"""Encryption at rest: what this release seals (AES-256-GCM), what earlier releases sealed (Fernet)
still read, tampering refused, and a key rotation that re-seals every encrypted column."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import LargeBinary, insert, select

from handlers.office.links import sign, verify
from storage import rotation
from storage.crypto import VERSION, Keyring, KeyringError
from storage.models import Base, OutboxBlob, SharedFile, ZaloOAToken


def _ring(*keys: str) -> Keyring:
    return Keyring({"BOT_SECRET_KEY": ",".join(keys)})


def test_a_sealed_token_opens_with_its_key_only_and_names_no_plaintext():
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ring = _ring(key)
    token = ring.encrypt("Nạn nhân bị đánh".encode())
    assert token[0] == VERSION and "Nạn nhân".encode() not in token
    assert ring.decrypt(token) == "Nạn nhân bị đánh".encode()
    assert ring.encrypt(b"same") != ring.encrypt(b"same")  # a fresh nonce each time
    with pytest.raises(KeyringError):
        _ring(other).decrypt(token)


def test_a_token_altered_anywhere_is_refused():
    ring = _ring(Fernet.generate_key().decode())
    token = bytearray(ring.encrypt(b"so vu: 3"))
    for at in (0, 1, 6, 20, len(token) - 1):  # version, key id, nonce, ciphertext, tag
        bad = bytearray(token)
        bad[at] ^= 0x01
        with pytest.raises(KeyringError):
            ring.decrypt(bytes(bad))
    with pytest.raises(KeyringError):
        ring.decrypt(bytes(token[:20]))
    with pytest.raises(KeyringError):
        ring.decrypt(b"plain text, never sealed")


def test_what_an_earlier_release_sealed_with_fernet_still_opens():
    key = Fernet.generate_key()
    old_token = Fernet(key).encrypt("bản nháp cũ".encode())
    ring = _ring(key.decode())
    assert ring.decrypt(old_token) == "bản nháp cũ".encode()
    assert not ring.first_key_reads(old_token)  # so a rotation re-seals it
    resealed = ring.rotate(old_token)
    assert resealed[0] == VERSION and ring.first_key_reads(resealed)
    assert ring.decrypt(resealed) == "bản nháp cũ".encode()


def test_a_second_key_still_opens_its_tokens_and_only_the_first_seals():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    under_old = _ring(old).encrypt(b"x")
    ring = _ring(new, old)
    assert ring.decrypt(under_old) == b"x" and not ring.first_key_reads(under_old)
    assert ring.first_key_reads(ring.encrypt(b"y"))
    assert _ring(new).decrypt(ring.encrypt(b"y")) == b"y"


def test_signed_links_of_this_release_and_the_last_verify_and_forged_ones_do_not(clock):
    key = Fernet.generate_key()
    ring = _ring(key.decode())
    now = clock.now()
    expires = now + timedelta(days=7)
    token = sign(ring, 42, expires)
    assert token.isascii() and "/" not in token and "+" not in token  # fits in a URL path as it is
    assert verify(ring, token, now) == 42
    assert verify(ring, token, expires + timedelta(seconds=1)) is None
    old_link = Fernet(key).encrypt(b'{"f": 7, "e": %d}' % int(expires.timestamp())).decode()
    assert verify(ring, old_link, now) == 7
    forged = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert verify(ring, forged, now) is None
    assert verify(ring, "not-a-token", now) is None
    assert verify(_ring(Fernet.generate_key().decode()), token, now) is None


def test_every_binary_column_is_either_encrypted_and_rotated_or_declared_plain():
    rotated = {(model.__tablename__, column) for model, column in rotation.ENCRYPTED}
    binary = {(table.name, column.name) for table in Base.metadata.tables.values() for column in table.columns
              if isinstance(column.type, LargeBinary)}
    assert binary - rotated - rotation.PLAIN_BINARY == set()


async def test_a_rotation_reseals_files_and_official_account_tokens_and_retires_the_old_key(app, clock, tmp_path):
    """Before, a rotation re-encrypted only cases, phones, drafts and the queues: retiring the old
    key then left the Zalo OA pair and the stored files unreadable."""
    key_file = tmp_path / "rotate.key"
    old = Fernet.generate_key()
    key_file.write_text(old.decode() + "\n")
    ring = Keyring({"BOT_SECRET_KEY_FILE": str(key_file)})
    now = clock.now()
    legacy = Fernet(old)  # as the previous release wrote them
    async with app.sessions() as s, s.begin():
        await s.execute(insert(OutboxBlob).values(key="b" * 32, data=legacy.encrypt(b"%PDF chart"), created_at=now))
        await s.execute(insert(SharedFile).values(id=9, commune_id=None, name="so-lieu.xlsx", mime="x", created_at=now,
                                                  expires_at=now, data=ring.encrypt(b"PK workbook")))
        await s.execute(insert(ZaloOAToken).values(
            account="oa-1", access_token=legacy.encrypt(b"access-1"), refresh_token=ring.encrypt(b"refresh-1"),
            expires_at=None, updated_at=now, refreshes=0))
    rotation.add_new_key(ring)
    assert await rotation.reencrypt(app.sessions, ring) == 4
    assert await rotation.retire_old_keys(app.sessions, ring)
    new_only = Keyring({"BOT_SECRET_KEY": key_file.read_text().strip()})
    async with app.sessions() as s:
        assert new_only.decrypt((await s.scalars(select(OutboxBlob.data))).one()) == b"%PDF chart"
        assert new_only.decrypt((await s.scalars(select(SharedFile.data))).one()) == b"PK workbook"
        pair = (await s.execute(select(ZaloOAToken.access_token, ZaloOAToken.refresh_token))).one()
        assert [new_only.decrypt(t) for t in pair] == [b"access-1", b"refresh-1"]
    with pytest.raises(KeyringError):
        _ring(old.decode()).decrypt(pair[0])
    assert await rotation.reencrypt(app.sessions, new_only) == 0  # nothing left for a second pass
