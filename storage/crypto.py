"""Encryption at rest: case free text, drafts, phones, inbox and outbox payloads, files, tokens.

Keys come from BOT_SECRET_KEY (one or more, separated by commas or new lines) or from the
file BOT_SECRET_KEY_FILE names (default data/secret.key, one key a line), each in Fernet's key
format (32 random bytes, URL-safe base64). The first key encrypts, every key decrypts, so a key
can be rotated. The file is re-read when it changes, so running processes pick up a rotation.

Data is sealed with AES-256-GCM under a key derived from each key (HKDF-SHA256): one call into
OpenSSL, about a tenth of Fernet's cost, which a conversation step paid four or five times. A
sealed token is VERSION, the key's 4-byte id, a 12-byte random nonce, then the ciphertext and its
16-byte tag. Fernet tokens written by earlier releases (they begin with "gAAAAA") are still read;
`rotate-key` re-seals them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

VERSION = 1  # the first byte of a sealed token
_HEAD = 1 + 4 + 12  # version, key id, nonce
_FERNET = b"gAAAAA"  # how every Fernet token begins (version byte 0x80, then the timestamp's top bytes)


class KeyringError(Exception):
    """No usable key: the bot must not run."""


def default_key_file(env) -> Path:
    base = env.get("BOT_DATA_DIR") or Path(__file__).resolve().parent.parent / "data"
    return Path(base) / "secret.key"


def _parse_keys(text: str) -> list[bytes]:
    keys = [k.strip() for k in text.replace(",", "\n").splitlines() if k.strip() and not k.startswith("#")]
    for k in keys:
        try:
            Fernet(k)
        except (ValueError, TypeError) as exc:
            raise KeyringError("a key in the key file or BOT_SECRET_KEY is not a valid Fernet key") from exc
    return [k.encode() for k in keys]


class Keyring:
    def __init__(self, env: dict | None = None, *, allow_generate: bool = True) -> None:
        env = os.environ if env is None else env
        self._env_keys = env.get("BOT_SECRET_KEY", "")
        self.path = Path(env.get("BOT_SECRET_KEY_FILE") or default_key_file(env))
        self._mtime: float | None = None
        self._fernet: MultiFernet | None = None
        if not self._env_keys and not self.path.exists():
            if not allow_generate:
                raise KeyringError(
                    "no encryption key: set BOT_SECRET_KEY or put a key file at "
                    f"{self.path} (BOT_SECRET_KEY_FILE). See README, 'Moving to PostgreSQL'."
                )
            self._generate()
        self._load()

    def _generate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode() + "\n")
        log.warning(
            "Generated a new encryption key at %s. Back it up apart from the database: "
            "without it the encrypted data cannot be read.",
            self.path,
        )

    def _load(self) -> None:
        if self._env_keys:
            keys = _parse_keys(self._env_keys)
        else:
            self._mtime = self.path.stat().st_mtime
            keys = _parse_keys(self.path.read_text())
        if not keys:
            raise KeyringError(f"the key file {self.path} holds no key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._sealers = [_Sealer(k) for k in keys]
        self._by_id = {}
        for sealer in reversed(self._sealers):
            self._by_id[sealer.key_id] = sealer

    def _current(self) -> MultiFernet:
        if not self._env_keys:
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                mtime = self._mtime
            if mtime != self._mtime:
                self._load()
        assert self._fernet is not None
        return self._fernet

    def encrypt(self, data: bytes) -> bytes:
        self._current()
        return self._sealers[0].seal(data)

    def decrypt(self, token: bytes) -> bytes:
        self._current()
        token = bytes(token)
        if token[:1] == bytes([VERSION]) and len(token) >= _HEAD + 16:
            sealer = self._by_id.get(token[1:5])
            if sealer is not None:
                try:
                    return sealer.open(token)
                except InvalidTag:
                    pass
            raise KeyringError("data was encrypted with a key that is not in the keyring")
        if token.startswith(_FERNET):
            try:
                return self._current().decrypt(token)
            except InvalidToken as exc:
                raise KeyringError("data was encrypted with a key that is not in the keyring") from exc
        raise KeyringError("this is not data the keyring encrypted")

    def rotate(self, token: bytes) -> bytes:
        """The same data sealed with the first key (a Fernet token of an earlier release too)."""
        return self.encrypt(self.decrypt(token))

    def first_key_reads(self, token: bytes) -> bool:
        """Whether the token is sealed with the first key, in this release's format."""
        self._current()
        token = bytes(token)
        if token[:1] != bytes([VERSION]) or token[1:5] != self._sealers[0].key_id:
            return False
        try:
            self._sealers[0].open(token)
            return True
        except InvalidTag:
            return False

    def encrypt_token(self, data: bytes) -> str:
        """Sealed, as URL-safe text (a signed link)."""
        return base64.urlsafe_b64encode(self.encrypt(data)).rstrip(b"=").decode()

    def decrypt_token(self, token: str) -> bytes:
        """What encrypt_token made (or a link an earlier release signed: a Fernet token)."""
        raw = token.encode()
        if not raw.startswith(_FERNET):
            try:
                raw = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
            except ValueError as exc:
                raise KeyringError("not a token the keyring made") from exc
        return self.decrypt(raw)

    @property
    def from_environment(self) -> bool:
        return bool(self._env_keys)

    def encrypt_text(self, text: str) -> bytes:
        return self.encrypt(text.encode("utf-8"))

    def decrypt_text(self, token: bytes) -> str:
        return self.decrypt(token).decode("utf-8")


class _Sealer:
    """AES-256-GCM under a key derived from one keyring key."""

    def __init__(self, key: bytes) -> None:
        raw = base64.urlsafe_b64decode(key)
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"commune-bot seal v1").derive(raw)
        self.key_id = hashlib.sha256(b"commune-bot key id" + raw).digest()[:4]
        self._aead = AESGCM(derived)
        self._prefix = bytes([VERSION]) + self.key_id

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        # The header is authenticated too: a token cannot be moved to another key id or version.
        return self._prefix + nonce + self._aead.encrypt(nonce, bytes(data), self._prefix)

    def open(self, token: bytes) -> bytes:
        return self._aead.decrypt(token[5:_HEAD], token[_HEAD:], self._prefix)


def keyring_for(url: str, env: dict | None = None) -> Keyring:
    """SQLite deployments get a key generated on first start; PostgreSQL ones must bring one."""
    return Keyring(env, allow_generate=url.startswith("sqlite"))
