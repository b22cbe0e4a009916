"""A digest broadcast: one commune's weekly digest queued to many recipients at once (the Monday
morning of a province), delivered by the outbox through the real TelegramChannel to the emulator
enforcing Telegram's limit (30 messages in any second, all chats together).

Figures: the achieved rate beside the 30 messages/s ceiling, messages lost, 429s answered; and
the time to queue everything (the claim, then the recipients' batches) beside one INSERT … SELECT
copying the same rows.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import func, select, text

from bench.parts import Options, part
from bench.rig import (
    TOKEN,
    BenchEmulator,
    add_people,
    bot_config,
    fresh_key,
    keyring_of,
    province,
    scratch_database,
    start_bot,
)
from bench.table import Figure, Table
from handlers.office import delivery
from storage import stats
from storage.db import make_engine, migrate, reading, session_factory
from storage.models import DigestRun, OutboxMessage
from storage.people import sync_communes

CEILING = 30.0  # messages per second, Telegram's limit for one bot
RATE_TARGET = 0.9


@part("broadcast", order=40)
async def broadcast(opts: Options, table: Table) -> None:
    async with scratch_database("sqlite") as url:
        rows = await measure(url, opts.recipients)
    table.add(*rows)
    table.print(rows)


async def _pending(app) -> tuple[int, int, int]:
    async with app.sessions() as session:
        row = (await session.execute(select(
            func.count().filter(OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None)),
            func.count().filter(OutboxMessage.delivered_at.is_not(None)),
            func.count().filter(OutboxMessage.failed_at.is_not(None)),
        ).where(OutboxMessage.kind == "digest"))).one()
    return int(row[0]), int(row[1]), int(row[2])


async def measure(url: str, recipients: int) -> list[Figure]:
    emu = BenchEmulator(token=TOKEN, bot_username="bench_bot")
    emu.enforce_rate_limits = True
    await emu.start()
    app = None
    try:
        world = province(1)
        config = bot_config(world, url, api_url=emu.api_url, file_url=emu.file_url, poll_timeout=1)
        engine = make_engine(url)
        await migrate(engine)
        async with session_factory(engine)() as session, session.begin():
            await sync_communes(session, config.communes)
        members = await add_people(engine, config, recipients, roles=("office",))
        await engine.dispose()
        for m in members:
            emu.user(m.uid, f"Cán bộ {m.uid}")
        app, _channel = await start_bot(config, url, keyring_of(fresh_key()))  # the channel's own limiter stays
        commune = config.communes[0]
        now = app.clock.now()
        period = stats.week_of(now.astimezone(commune.tz).date() - timedelta(days=7))
        # The scheduler's own digest job left out: it would prepare the same week beside the one timed.
        app.scheduler.jobs = [j for j in app.scheduler.jobs if j.name != "weekly_digest"]
        async with app.sessions() as session, session.begin():  # the week before went out: this one is due
            session.add(DigestRun(commune_id=commune.id, week=stats.week_of(period.start - timedelta(days=1)).week_key,
                                  claimed_at=now, missed=[], recipients=0))
        app.outbox.stop()  # queue first, then deliver: the queueing is timed on its own
        await asyncio.sleep(0)
        # As the scheduled run does it (handlers/office/delivery.py run_scheduled): read, files built
        # with no transaction open, then the claim with each kind of reader's messages and the
        # recipients' batches, timed on their own, while another writer tries a short transaction
        # every 100 ms.
        started = time.perf_counter()
        async with reading(app.sessions)() as session, session.begin():
            prepared = await delivery.prepare_digest(session, app.services, commune, period, now=now)
        await delivery.build_files(prepared)
        built = time.perf_counter() - started
        probe = Probe(app)
        probing = asyncio.create_task(probe.run())
        await asyncio.sleep(0.25)
        started = time.perf_counter()
        reached = await delivery.claim_and_queue(app.services, app.sessions, commune, period, prepared, now=now)
        queued = time.perf_counter() - started
        await asyncio.sleep(0.25)
        probing.cancel()
        await asyncio.gather(probing, return_exceptions=True)
        copy = await _copy_baseline(app)
        expected, _, _ = await _pending(app)
        first_new = len(emu.appeared)
        app.outbox._stopping = False
        sending = asyncio.create_task(app.outbox.run())
        app._tasks.append(sending)
        began = time.perf_counter()
        deadline = began + expected / CEILING * 3 + 60
        alert_at = min(expected // 3, 300)  # the alert comes once the broadcast is well under way
        alert_seconds = None
        while time.perf_counter() < deadline:
            if alert_seconds is None and len(emu.appeared) - first_new >= alert_at:
                alert_seconds = await _alert_during(app, emu, commune)
            pending, _, _ = await _pending(app)
            if pending == 0:
                break
            await asyncio.sleep(0.5)
        pending, delivered, failed = await _pending(app)
        times = emu.appeared[first_new:]
        sent = len(times)
        rate = (sent - 1) / (times[-1] - times[0]) if sent > 1 and times[-1] > times[0] else None
        each = expected // max(reached, 1)
        short = sum(1 for m in members if len(emu.messages(m.uid)) < each)
    finally:
        if app is not None:
            await app.stop()
        await emu.stop()
    lost = pending + failed
    note = (f"{reached:,} recipients, {expected:,} messages queued (text, chart, Excel each), {delivered:,} "
            f"delivered, {sent:,} seen by the emulator in {times[-1] - times[0] if sent > 1 else 0:.0f} s; "
            f"{short} recipients short of a part; the channel paces itself at 29/s, evenly")
    return [
        Figure("broadcast", f"{reached:,} recipients: achieved rate", rate, "msg/s", "ceiling", CEILING,
               f"≥ {RATE_TARGET * 100:.0f}% of ceiling", rate is not None and rate >= RATE_TARGET * CEILING,
               note=note),
        Figure("broadcast", "messages lost (failed or never sent)", lost, "count", "", None, "0", lost == 0),
        Figure("broadcast", "429 Too Many Requests answered", emu.too_many, "count"),
        Figure("broadcast", "an urgent alert queued during it: delivered in", alert_seconds, "s", "", None, "≤ 2 s",
               alert_seconds is not None and alert_seconds <= 2.0,
               note=f"queued by a job after {alert_at:,} of the broadcast's messages had gone out, with "
                    f"{expected - alert_at:,} still queued before it"),
        Figure("broadcast", f"queue {reached:,} digests (claim, then batches of {delivery.BATCH})", queued, "s",
               "INSERT … SELECT of the same rows", copy, "≤ 3×", queued <= 3 * copy,
               note=f"the files built before it, with no transaction open: {built:.2f} s"),
        Figure("broadcast", "another writer's longest wait meanwhile", probe.longest, "s", "", None, "≤ 0.2 s",
               probe.longest <= 0.2, note=f"{probe.tries} short write transactions tried, one every 100 ms"),
    ]


POLICE_UID = 990_000_001


async def _alert_during(app, emu, commune) -> float | None:
    """An urgent alert queued (as the escalation job does) while the broadcast is being sent: the
    seconds until it is in the police chat."""
    from core.events import Reply
    from storage import outbox as outbox_store

    emu.user(POLICE_UID, "Công an xã")
    seen = len(emu.messages(POLICE_UID))
    started = time.perf_counter()
    async with app.sessions() as session, session.begin():
        outbox_store.queue_to_chat(session, app.services.keyring, channel="telegram", account=app.channels[0].account,
                                   chat_id=str(POLICE_UID), person_id=None, now=app.clock.now(), kind="alert",
                                   reply=Reply(text="🔴 KHẨN CẤP — HS-2026-0001: cần hỗ trợ ngay"))
    app.outbox.wake()
    while time.perf_counter() - started < 30:
        if len(emu.messages(POLICE_UID)) > seen:
            return time.perf_counter() - started
        await asyncio.sleep(0.01)
    return None


class Probe:
    """Another writer (a step, an alert) beside the queueing: a short write transaction every
    100 ms, and the longest it waited to commit."""

    def __init__(self, app) -> None:
        self.app, self.longest, self.tries = app, 0.0, 0

    async def run(self) -> None:
        while True:
            began = time.perf_counter()
            async with self.app.sessions() as session, session.begin():
                await session.execute(text("UPDATE outbox SET attempts = attempts WHERE id = -1"))
            self.longest = max(self.longest, time.perf_counter() - began)
            self.tries += 1
            await asyncio.sleep(0.1)


async def _copy_baseline(app) -> float:
    """The floor: one statement writing the same outbox rows (payloads included) once more, into
    the outbox itself (its indexes, its file), and the commit; marked delivered so nothing sends
    them, and deleted afterwards."""
    columns = "person_id, channel, account, chat_id, tag, payload, created_at, due_at, attempts"
    async with app.engine.connect() as conn:
        started = time.perf_counter()
        await conn.execute(text(f"INSERT INTO outbox ({columns}, kind, delivered_at) "
                                f"SELECT {columns}, 'bench_copy', created_at FROM outbox WHERE kind = 'digest' "
                                f"ORDER BY id"))
        await conn.commit()
        seconds = time.perf_counter() - started
        await conn.execute(text("DELETE FROM outbox WHERE kind = 'bench_copy'"))
        await conn.commit()
    return seconds
