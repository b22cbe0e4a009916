"""Backups while the bot writes, restores into an empty database, and the move to PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.app import App
from bot.backup import BackupError, backup, restore, row_counts
from bot.copydb import CopyError, copy_db
from bot.status import status_command
from core.events import Incoming
from storage.cases import read_case
from storage.db import head_revision
from storage.models import Case, CaseText, InboxEvent, PersonRole, Photo, Report
from storage.people import load_profile
from tests.fakechannel import FakeChannel, User
from tests.helpers import enrolled, vi, walk_to_review

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = "Hàng xóm nghe tiếng cãi nhau lớn ở nhà bên cạnh"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (20, 120, 60)).save(out, "JPEG")
    return out.getvalue()


async def report_with_photo(user: User, **figures) -> None:
    await walk_to_review(user, **figures)
    await user.press("✏️ 10")  # photos (line 10: the campaign answer is line 3)
    await user.photo(jpeg())
    await user.press(vi("Done"))
    await user.press(vi("Confirm"))


async def test_a_backup_taken_while_the_bot_writes_restores_every_row(app, db_url, tmp_path, secret_env):
    head = await enrolled(app)
    await report_with_photo(head)
    key_file = tmp_path / "secret.key"  # where data/secret.key would be, beside the database
    key_file.write_text(secret_env["BOT_SECRET_KEY"] + "\n")

    # Messages keep arriving while the backup is taken.
    written: list[int] = []
    stop = asyncio.Event()

    async def arrivals():
        while not stop.is_set():
            n = len(written) + 1
            await app.inbox.put(Incoming(channel="fake", account="test", user_id="w", chat_id="w",
                                         dedup_key=f"w{n}", text=f"tin nhắn {n}"))
            written.append(n)
            await asyncio.sleep(0)

    writer = asyncio.create_task(arrivals())
    while len(written) < 20:
        await asyncio.sleep(0.005)
    file = tmp_path / "backups" / "bot-2026-11-25.db"
    file.parent.mkdir()
    counts = await asyncio.to_thread(backup, db_url, file)
    during = len(written)
    while len(written) < during + 20:
        await asyncio.sleep(0.005)
    stop.set()
    await writer

    # A consistent snapshot: the first N arrivals, all of them, and none after.
    source = row_counts(Path(app.engine.url.database))
    assert 20 <= counts["inbox"] - 2 < source["inbox"] - 2  # (the two report-form events aside)
    assert counts["reports"] == 1 and counts["photos"] == 1
    assert os.stat(file).st_mode & 0o777 == 0o600
    raw = file.read_bytes()
    assert secret_env["BOT_SECRET_KEY"].encode() not in raw and key_file.read_bytes().strip() not in raw
    with pytest.raises(BackupError, match="exists already"):
        backup(db_url, file)

    # Restored into an empty database: every row of the backup, the photo included.
    with pytest.raises(BackupError, match="already holds data"):
        restore(db_url, file)
    target = tmp_path / "restored" / "bot.db"
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{target}", **secret_env)
    done = subprocess.run([sys.executable, "-m", "bot", "restore", str(file)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"schema {head_revision()}" in done.stdout
    assert row_counts(target) == counts
    restored = App(app.config, clock=app.clock, keyring=app.services.keyring,
                   storage_url=f"sqlite+aiosqlite:///{target}")
    try:
        async with app.sessions() as s, restored.sessions() as r:
            photo = await s.scalar(select(Photo))
            assert (await r.scalar(select(Photo))).data == photo.data
            assert (await r.scalar(select(Report.ref))) == "BC-2026-0001"
            keys = (await s.scalars(select(InboxEvent.dedup_key).order_by(InboxEvent.id))).all()
            kept = (await r.scalars(select(InboxEvent.dedup_key).order_by(InboxEvent.id))).all()
            assert kept == keys[: len(kept)]
        await restored.prepare()  # the bot starts on it as on the original
        again = User(restored, head.user_id)
        restored.fake = FakeChannel()
        restored.add_channel(restored.fake)
        assert (await again.say("/cuatoi"))[0].count("BC-2026-0001") == 1
    finally:
        await restored.engine.dispose()


async def figures(app) -> dict:
    """What the office would read: report and case counts, attendances, the case text."""
    async with app.sessions() as s:
        current = Report.superseded_at.is_(None)
        totals = (await s.execute(select(func.count(), func.sum(Report.attendees_total), func.sum(Report.attendees_male),
                                         func.sum(Report.attendees_female)).where(current))).one()
        case = await s.scalar(select(Case))
        office = await load_profile(s, await s.scalar(select(PersonRole.person_id).where(PersonRole.role == "office")))
        texts = (await s.scalars(select(CaseText.id))).all()
        data = {
            "reports": tuple(totals), "cases": await s.scalar(select(func.count()).select_from(Case)),
            "case texts": len(texts), "photos": await s.scalar(select(func.count()).select_from(Photo)),
        }
    async with app.sessions() as s, s.begin():
        read = await read_case(s, app.services.keyring, case, office, channel="fake", now=app.clock.now())
    data["description"] = any(DESCRIPTION == t for _, t in read.texts)
    if importlib.util.find_spec("storage.stats") is not None:  # the weekly digest's figures, where it has landed
        from storage import stats

        commune = app.config.communes[0]
        async with app.sessions() as s:
            week = stats.week_of(app.clock.now().astimezone(commune.tz).date())
            found = await stats.figures(s, commune, week, now=app.clock.now())
        data["digest"] = (found.outreach, found.ytd, found.by_topic, found.village_period, found.cases, found.open_cases)
    return data


async def test_copy_db_moves_a_deployment_to_postgresql_and_the_bot_runs_there(app, config, clock, pg_url):
    head = await enrolled(app)
    await enrolled(app, "office", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    await report_with_photo(head)
    other = await enrolled(app, "u2", name="Lò Thị Hai")
    await walk_to_review(other, total="80", male="30", female="50")
    await other.press(vi("Confirm"))
    from tests.test_case_form import answer_case

    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head, forms=("Psychological",), description=DESCRIPTION)
    before = await figures(app)
    assert before["reports"] == (2, 200, 80, 120) and before["cases"] == 1 and before["description"]

    counts = await copy_db(str(app.engine.url), pg_url, batch=7)
    assert counts["reports"] == 2 and counts["photos"] == 1 and counts["inbox"] > 7
    with pytest.raises(CopyError, match="not empty"):
        await copy_db(str(app.engine.url), pg_url)

    pg = App(config, clock=clock, keyring=app.services.keyring, storage_url=pg_url)
    pg.fake = FakeChannel()
    pg.add_channel(pg.fake)
    try:
        await pg.prepare()
        assert await figures(pg) == before
        # The bot goes on there: the same person, a new report, the next reference (sequences moved on).
        again = User(pg, head.user_id)
        await walk_to_review(again, total="10", male="4", female="6")
        done = await again.press(vi("Confirm"))
        assert any("BC-2026-0003" in text for text in done)
        out = io.StringIO()
        await status_command(config, url=pg_url, now=clock.now(), out=out)
        assert f"schema {head_revision()} (up to date)" in out.getvalue()
        assert "no unacknowledged urgent alert" in out.getvalue()
    finally:
        await pg.engine.dispose()
