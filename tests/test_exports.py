"""/xuat is answered at once and its files are built apart (handlers/office/exports.py): no
transaction is open while the workbook is written, so the urgent path never waits behind an export;
the rights are checked again when the files are ready; a request survives a restart; a build that
keeps failing ends in an apology, never in silence."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import delete, func, select

from bot.app import App
from handlers.office import exports as export_job
from handlers.office import files
from storage import exports as export_requests
from storage.models import AuditEntry, ExportRequest, PersonRole
from tests.fakechannel import FakeChannel, User, declare
from tests.test_digest import local, person, seed


async def _pending(app) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(ExportRequest)
                                  .where(ExportRequest.done_at.is_(None))) or 0)


async def _exports_audited(app) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == "export")) or 0)


async def test_the_workbook_is_built_with_no_transaction_open(app, clock, monkeypatch):
    """While the workbook is being written, another writer (an urgent step) commits at once."""
    declare(app, app.fake, files=True, file_types=("*",))
    await seed(app)
    await person(app, "office", ["office"])
    clock.set(local(2027, 1, 4, 8))
    office = User(app, "office")
    writing, finish = threading.Event(), threading.Event()
    real = files.workbook

    def slow_workbook(*args, **kwargs):
        writing.set()
        finish.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(files, "workbook", slow_workbook)
    # The step: answered at once, and nothing built yet.
    await app.inbox.put(office_event(office, "/xuat 2026-W53"))
    await app.router.run_until_idle()
    await app.outbox.drain()
    assert [m.text for m in app.fake.chats["office"]] == [
        "Đang chuẩn bị tệp số liệu từ 28/12/2026 đến 03/01/2027… Tệp sẽ được gửi vào đây ngay khi xong."]
    assert await _pending(app) == 1 and app.scheduler.woken

    build = asyncio.create_task(app.scheduler.run_job("exports"))
    while not writing.is_set():
        await asyncio.sleep(0.01)

    async def probe() -> None:
        async with app.sessions() as s, s.begin():  # SQLite: BEGIN IMMEDIATE, the one write lock
            await s.execute(delete(AuditEntry).where(AuditEntry.id == -1))

    # It commits while the workbook is still being written (held open below until it does): a
    # deadline, not a timing; inside a transaction it would wait for the workbook (busy_timeout 30 s).
    await asyncio.wait_for(probe(), 5)
    assert not build.done()
    finish.set()
    assert await build == 1
    await app.outbox.drain()
    texts = [m.text for m in app.fake.chats["office"]]
    assert texts[1].startswith("Số liệu từ 28/12/2026 đến 03/01/2027: 5 báo cáo buổi tuyên truyền"), texts
    names = [m.reply.file[0] for m in app.fake.chats["office"] if m.reply.file]
    assert names == ["so-lieu-2026-12-28-2027-01-03.xlsx", "so-lieu-2026-12-28-2027-01-03.csv"]
    assert await _pending(app) == 0 and await _exports_audited(app) == 1


def office_event(user: User, text: str):
    from core.events import Incoming

    return Incoming(channel="fake", account="test", user_id=user.user_id, chat_id=user.user_id, dedup_key=text,
                    text=text, kind="text", message_id="m-" + text)


async def test_a_person_whose_role_was_taken_away_meanwhile_gets_no_file(app, clock):
    declare(app, app.fake, files=True, file_types=("*",))
    await seed(app)
    office_id = await person(app, "office", ["office"])
    clock.set(local(2027, 1, 4, 8))
    await app.inbox.put(office_event(User(app, "office"), "/xuat 2026-W53"))
    await app.router.run_until_idle()
    async with app.sessions() as s, s.begin():  # revoked before the job ran
        await s.execute(delete(PersonRole).where(PersonRole.person_id == office_id))
    assert await app.scheduler.run_job("exports") == 1
    await app.outbox.drain()
    texts = [m.text for m in app.fake.chats["office"]]
    assert texts[-1] == "Lệnh này không dành cho vai trò của anh/chị."
    assert not [m for m in app.fake.chats["office"] if m.reply.file]
    assert await _pending(app) == 0 and await _exports_audited(app) == 0


async def test_a_request_left_by_a_killed_process_is_built_after_the_restart(app, config, clock, keyring, db_url):
    declare(app, app.fake, files=True, file_types=("*",))
    await seed(app)
    await person(app, "office", ["office"])
    clock.set(local(2027, 1, 4, 8))
    await app.inbox.put(office_event(User(app, "office"), "/xuat 2026-W53"))
    await app.router.run_until_idle()
    async with app.sessions() as s, s.begin():  # the builder claimed it, then the process died
        assert await export_requests.claim_next(s, keyring, clock.now()) is not None
    await app.engine.dispose()

    again = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    again.fake = FakeChannel(); again.add_channel(again.fake)  # noqa: E702
    declare(again, again.fake, files=True, file_types=("*",))
    again.scheduler.jobs = [j for j in again.scheduler.jobs if j.name == "exports"]
    await again.start(http=False)
    try:
        for _ in range(300):
            await asyncio.sleep(0.02)
            if len([m for m in again.fake.chats.get("office", []) if m.reply.file]) == 2:
                break
        names = [m.reply.file[0] for m in again.fake.chats.get("office", []) if m.reply.file]
        assert names == ["so-lieu-2026-12-28-2027-01-03.xlsx", "so-lieu-2026-12-28-2027-01-03.csv"]
    finally:
        await again.stop()


async def test_a_build_that_keeps_failing_ends_in_an_apology(app, clock, monkeypatch):
    declare(app, app.fake, files=True, file_types=("*",))
    await seed(app)
    await person(app, "office", ["office"])
    clock.set(local(2027, 1, 4, 8))

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files, "workbook", broken)
    await app.inbox.put(office_event(User(app, "office"), "/xuat 2026-W53"))
    await app.router.run_until_idle()
    for attempt in range(1, 4):
        await app.scheduler.run_job("exports")
        await app.outbox.drain()
        if attempt < 3:
            assert await _pending(app) == 1  # kept, and tried again a minute later
            assert await export_job.build_exports(app.services, app.sessions, clock.now()) == 0  # not before
            clock.advance(seconds=61)
    texts = [m.text for m in app.fake.chats["office"]]
    assert texts[-1] == "Xin lỗi, chưa tạo được tệp. Vui lòng gửi lại /xuat sau ít phút."
    assert await _pending(app) == 0


async def test_a_read_only_transaction_holds_no_write_lock(app):
    """The figures of an export or a digest are read in sessions declared read-only
    (storage/db.py reading): on SQLite a writer (an urgent step) commits while one is open."""
    from storage.db import reading
    from storage.models import Report

    async with reading(app.sessions)() as r, r.begin():
        await r.scalar(select(func.count()).select_from(Report))

        async def write() -> None:
            async with app.sessions() as s, s.begin():
                await s.execute(delete(AuditEntry).where(AuditEntry.id == -1))

        await asyncio.wait_for(write(), 5)  # a deadline: with the write lock taken it would wait 30 s
