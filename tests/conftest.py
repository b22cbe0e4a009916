"""Fixtures: a fake clock, a fresh database per test, and a fake channel to hold conversations on."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from bot.app import App
from core.clock import FakeClock
from core.config import Phones, load_config
from storage.crypto import Keyring
from tests.fakechannel import FakeChannel, PlainChannel

# 10:00 in Xuân Dương on Wednesday 25/11/2026.
START = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def secret_env(tmp_path) -> dict:
    return {"BOT_SECRET_KEY": Fernet.generate_key().decode(), "BOT_SECRET_KEY_FILE": str(tmp_path / "none.key")}


@pytest.fixture
def keyring(secret_env) -> Keyring:
    return Keyring(secret_env, allow_generate=False)


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


# config.toml ships with the commune's numbers empty (a number shown in an emergency must be the
# commune's own, never an example); the tests' commune has these.
TEST_PHONES = Phones(police="0208 3000 113", office_duty="0208 3000 000")


@pytest.fixture
def config():
    shipped = load_config(os.path.join(os.path.dirname(__file__), "..", "config.toml"))
    return replace(shipped, communes=tuple(replace(c, phones=TEST_PHONES) for c in shipped.communes))


_TEMPLATE: list = []  # one SQLite database migrated to head, copied for each test that wants an app


async def _migrated(db_url: str, keyring, tmp_path_factory) -> None:
    """Start the test's database as a copy of a migrated one: migrating anew for every test was most
    of a conversation test's time. The migrations themselves are tested on their own."""
    import shutil
    from pathlib import Path

    from storage.db import make_engine, migrate

    if not _TEMPLATE or not _TEMPLATE[0].exists():  # another pytest run may have cleaned old temp dirs
        _TEMPLATE.clear()
        template = tmp_path_factory.mktemp("template") / "bot.db"
        engine = make_engine(f"sqlite+aiosqlite:///{template}")
        await migrate(engine, keyring)
        await engine.dispose()  # the last connection closing checkpoints the WAL into the file
        _TEMPLATE.append(template)
    shutil.copyfile(_TEMPLATE[0], Path(db_url.split(":///", 1)[1]))


@pytest.fixture
async def app(config, clock, keyring, db_url, tmp_path_factory):
    await _migrated(db_url, keyring, tmp_path_factory)
    application = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    channel = FakeChannel()
    application.add_channel(channel)
    application.plain = PlainChannel()  # beside it: a channel without buttons (tests/fakechannel.py)
    application.add_channel(application.plain)
    await application.prepare()
    application.fake = channel
    yield application
    await application.engine.dispose()


def _run_apart(coro):
    """Run a coroutine on its own loop in a thread (usable from sync fixtures inside async tests)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, when TEST_POSTGRES_URL names a server.

    Unset: the test is skipped (a user's machine has no PostgreSQL). Set but unreachable: the
    test fails, so CI can never pass without really running it.
    """
    import uuid

    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    name = f"bot_test_{uuid.uuid4().hex[:10]}"
    _run_apart(_admin(dsn, f'CREATE DATABASE "{name}"'))
    head, _, _ = base.rpartition("/")
    yield f"{head}/{name}"
    _run_apart(_admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
async def any_app(request, config, clock, keyring, db_url):
    """The same app on SQLite and on PostgreSQL."""
    url = db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    application = App(config, clock=clock, keyring=keyring, storage_url=url)
    channel = FakeChannel()
    application.add_channel(channel)
    await application.prepare()
    application.fake = channel
    yield application
    await application.engine.dispose()
