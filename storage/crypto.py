"""Encryption at rest with Fernet: case free text, drafts, inbox and outbox payloads.

Keys come from BOT_SECRET_KEY (one or more, separated by commas or new lines) or from the
file BOT_SECRET_KEY_FILE names (default data/secret.key, one key a line). The first key
encrypts, every key decrypts, so a key can be rotated. The file is re-read when it changes,
so running processes pick up a rotation.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)



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
        self._first: bytes | None = None
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
        self._first = keys[0]
        self._fernet = MultiFernet([Fernet(k) for k in keys])

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
        return self._current().encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._current().decrypt(token)
        except InvalidToken as exc:
            raise KeyringError("data was encrypted with a key that is not in the keyring") from exc

    def rotate(self, token: bytes) -> bytes:
        """The same data encrypted with the first key."""
        return self._current().rotate(token)

    def first_key_reads(self, token: bytes) -> bool:
        self._current()
        try:
            Fernet(self._first).decrypt(token)
            return True
        except InvalidToken:
            return False

    @property
    def from_environment(self) -> bool:
        return bool(self._env_keys)

    def encrypt_text(self, text: str) -> bytes:
        return self.encrypt(text.encode("utf-8"))

    def decrypt_text(self, token: bytes) -> str:
        return self.decrypt(token).decode("utf-8")


def keyring_for(url: str, env: dict | None = None) -> Keyring:
    """SQLite deployments get a key generated on first start; PostgreSQL ones must bring one."""
    return Keyring(env, allow_generate=url.startswith("sqlite"))
