"""People's phone numbers at rest: encrypted in the database and so in every backup, readable for the
alerts that need them, re-encrypted by a key rotation, and moved out of the clear column by
migration 0008 (on SQLite and PostgreSQL)."""

from __future__ import annotations

import glob
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from bot.app import App
from storage import rotation
from storage.crypto import Keyring, KeyringError
from storage.db import _alembic_config, make_engine, migrate
from storage.models import Person
from storage.people import phone_of
from tests.fakechannel import FakeChannel, User
from tests.helpers import make_invite, vi
from tests.test_case_form import officers

ROOT = Path(__file__).resolve().parent.parent
# Every way the two numbers of these tests could be written down.
ENROLLED = ("0912345678", "912345678", "+84912345678", "84912345678", "0912 345 678", "0912.345.678")
IN_FORM = ("0987654321", "987654321", "+84987654321", "84987654321", "0987 654 321")


def db_files(db_url: str) -> list[Path]:
    """bot.db and its -wal (and -shm), as they are on disk while the bot runs."""
    path = db_url.split(":///", 1)[1]
    return [Path(p) for p in sorted(glob.glob(path + "*"))]


def assert_nowhere(data: bytes, where: str, forms=ENROLLED + IN_FORM) -> None:
    for form in forms:
        for encoded in {form.encode(), form.encode("utf-16-le")}:
            assert encoded not in data, f"{form!r} is in {where}"


async def test_no_phone_number_is_in_the_database_files_or_a_backup_and_alerts_still_show_them(
        app, db_url, tmp_path, secret_env):
    police, leader, office = await officers(app)
    # A village head who types a number at enrolment...
    lan = User(app, "lan", name="Lan")
    await lan.say(f"/start {await make_invite(app, name='Nguyễn Thị Lan')}")
    assert (await lan.say("0912 345 678"))[0] == vi("Thank you, your phone number has been saved.")
    # ...and one who skips it, then gives one in an urgent case form.
    ba = User(app, "ba")
    await ba.say(f"/start {await make_invite(app)}")
    await ba.press(vi("Skip"))
    await ba.say("/baotin")
    await ba.press(vi("Yes"))
    await ba.say("0987 654 321")
    await ba.press("Thôn 3")
    await ba.say("/huy")
    # Lan reports an urgent case too: her alert carries her number from the start.
    await lan.say("/baotin")
    await lan.press(vi("Yes"))

    alerts = [m.text for m in police.messages]
    assert vi("🔴 {ref}: the reporter's phone number: {phone}", ref="HS-2026-0001", phone="0987 654 321") in alerts
    assert any(vi("Reported by: {name}, phone number {phone}", name="Nguyễn Thị Lan", phone="0912 345 678") in t
               and t.startswith(vi("🔴 URGENT — case {ref}", ref="HS-2026-0002")) for t in alerts)
    async with app.sessions() as s:
        people = {p.name: p for p in (await s.scalars(select(Person))).all()}
    assert phone_of(app.services.keyring, people["Nguyễn Thị Lan"]) == "+84912345678"
    assert phone_of(app.services.keyring, people["Hoàng Văn Ba"]) == "+84987654321"
    assert phone_of(app.services.keyring, people["Trần Công An"]) is None

    files = db_files(db_url)
    assert any(f.name.endswith("-wal") for f in files)  # the write-ahead log is searched too
    for f in files:
        assert_nowhere(f.read_bytes(), f.name)

    backup = tmp_path / "backups" / "bot-2026-11-25.db"
    backup.parent.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    env.update(DATABASE_URL=db_url, **secret_env)
    done = subprocess.run([sys.executable, "-m", "bot", "backup", str(backup)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert_nowhere(backup.read_bytes(), "the backup")
    with closing(sqlite3.connect(backup)) as db:  # the people are in it, their numbers encrypted
        assert db.execute("SELECT count(*) FROM people WHERE phone_enc IS NOT NULL").fetchone() == (2,)


async def test_a_key_rotation_re_encrypts_the_phone_numbers(config, clock, tmp_path, db_url):
    key_file = tmp_path / "secret.key"
    ring = Keyring({"BOT_SECRET_KEY_FILE": str(key_file)})
    old_key = key_file.read_text().strip()
    app = App(config, clock=clock, keyring=ring, storage_url=db_url)
    app.fake = FakeChannel()
    app.add_channel(app.fake)
    await app.prepare()
    try:
        lan = User(app, "lan")
        await lan.say(f"/start {await make_invite(app)}")
        await lan.say("0912 345 678")
        rotation.add_new_key(ring)
        assert await rotation.reencrypt(app.sessions, ring) > 0
        assert await rotation.retire_old_keys(app.sessions, ring)
        async with app.sessions() as s:
            person = await s.scalar(select(Person))
        assert phone_of(ring, person) == "+84912345678"
        with pytest.raises(KeyringError):
            phone_of(Keyring({"BOT_SECRET_KEY": old_key}), person)
    finally:
        await app.engine.dispose()


async def _at_revision(engine, revision: str) -> None:
    from alembic import command

    def upgrade(connection) -> None:
        cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(upgrade)


async def _columns(engine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("people")})


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_migration_0008_moves_clear_numbers_into_the_encrypted_column(request, backend, db_url, keyring):
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    try:
        await _at_revision(engine, "0007")  # a deployment from before: numbers in clear
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO communes (id, name) VALUES ('xuanduong', 'Xuân Dương')"))
            for pid, phone in ((1, "+84912345678"), (2, None), (3, "+84987654321")):
                await conn.execute(text(
                    "INSERT INTO people (id, commune_id, name, phone, phone_asked, lang, active, created_at) "
                    "VALUES (:id, 'xuanduong', :name, :phone, :asked, 'vi', :active, '2026-11-01 00:00:00')"),
                    {"id": pid, "name": f"Người {pid}", "phone": phone, "asked": True, "active": True})

        with pytest.raises(RuntimeError, match="encryption key"):
            await migrate(engine)  # without the key: refused, nothing half done
        assert "phone" in await _columns(engine) and "phone_enc" not in await _columns(engine)

        await migrate(engine, keyring)
        assert "phone_enc" in await _columns(engine)
        if backend == "postgres" or sqlite3.sqlite_version_info >= (3, 35):
            assert "phone" not in await _columns(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, phone_enc FROM people ORDER BY id"))).all()
        assert [(pid, keyring.decrypt_text(t) if t else None) for pid, t in rows] == [
            (1, "+84912345678"), (2, None), (3, "+84987654321")]
        await migrate(engine, keyring)  # again: nothing to do
    finally:
        await engine.dispose()
    if backend == "sqlite":  # the space the clear numbers took is zeroed (secure_delete), not just freed
        path = db_url.split(":///", 1)[1]
        with closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert_nowhere(Path(path).read_bytes(), "the migrated database", ("912345678", "987654321"))
