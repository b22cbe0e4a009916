"""Time every office command and the digest on the generated data, beside a baseline query.

Each check is a named coroutine in CHECKS; the scale work adds its own with `check(...)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select, text

from bench.world import config_from_db, keyring
from bot.app import App
from bot.channels.base import Channel
from core.events import Capabilities, Incoming
from handlers.context import Outgoing
from storage.db import make_engine, migrate, reading, session_factory
from storage.models import Case, Identity, Report
from storage.people import attach_identity, create_person

LIMIT = 1.0  # seconds: what "answers in under a second" means
BENCH_PEOPLE = {"office": ["office"], "leader": ["leader"], "police": ["police"], "admin": ["admin"],
                "province": ["province"]}


class Recorder(Channel):
    """A channel that only counts what it is given."""

    name = "bench"
    account = "bench"
    capabilities = Capabilities(buttons=100, toggles=True, edit=True)

    def __init__(self) -> None:
        self.sent = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat_id, reply, done=0):
        from core.events import Delivery

        self.sent += 1
        return Delivery(ok=True, platform_ids=[str(self.sent)])

    async def edit(self, chat_id, platform_id, reply):
        from core.events import Delivery

        return Delivery(ok=True, platform_ids=[platform_id])


@dataclass
class Bench:
    app: App
    commune_id: str
    sequence: int = 0

    async def say(self, who: str, text_: str) -> None:
        """One message from a bench person, handled to the end (replies delivered)."""
        self.sequence += 1
        await self.app.inbox.put(Incoming(
            channel="bench", account="bench", user_id=who, chat_id=who, dedup_key=f"{time.time_ns()}-{self.sequence}",
            text=text_, kind="text"))
        await self.app.router.run_until_idle()
        await self.app.outbox.drain()


Check = Callable[[Bench], Awaitable[float | None]]  # a float: the seconds of the part it timed
CHECKS: list[tuple[str, Check]] = []
NOTES: list[str] = []  # what a check found beside its timing, printed under the table


def check(name: str):
    def register(fn: Check) -> Check:
        CHECKS.append((name, fn))
        return fn

    return register


def _command(name: str, who: str, line: str) -> None:
    async def run(bench: Bench) -> None:
        await bench.say(who, line)

    CHECKS.append((name, run))


for _who, _line in (
    ("office", "/tuan"), ("office", "/tuan truoc"), ("office", "/thang"), ("office", "/thang truoc"),
    ("office", "/tuan 01/01/{year}-31/12/{year}"), ("office", "/thon Thôn 3"), ("office", "/chuabaocao"),
    ("office", "/vuviec"), ("office", "/vuviec {ref}"), ("office", "/capnhat {ref}"), ("office", "/xuat"),
    ("office", "/nguoidung"), ("office", "/bantin"), ("office", "/nhacnho"), ("office", "/thongbao"),
    ("office", "/huy"), ("leader", "/tuan"), ("police", "/vuviec"), ("admin", "/thuhoi"),
    ("province", "/tuan"), ("province", "/chuabaocao"), ("province", "/xuat"),
):
    _command(f"{_who}: {_line}", _who, _line)


def _export_built(name: str, who: str, line: str) -> None:
    """/xuat answers at once (the check above); its files are built apart: this is until they are sent."""
    async def run(bench: Bench) -> None:
        await bench.say(who, line)
        await bench.app.scheduler.run_job("exports")
        await bench.app.outbox.drain()

    CHECKS.append((name, run))


for _who in ("office", "province"):
    _export_built(f"{_who}: /xuat, files built and sent", _who, "/xuat")


@check("province: an urgent alert queued while /xuat nam's files are made, until delivered")
async def _alert_during_export(bench: Bench) -> float:
    """The time of the alert alone: the province export is read and built beside it (no
    transaction open while it builds, the workbook on the file thread)."""
    from core.events import Reply
    from storage import outbox as outbox_store
    from storage.models import ExportRequest

    app = bench.app
    await bench.say("province", "/xuat nam {year}")  # the year so far: the largest export an officer asks for
    making = asyncio.create_task(app.scheduler.run_job("exports"))
    for _ in range(1000):  # until the request is taken: its rows being read, then its files made
        await asyncio.sleep(0.01)
        async with reading(app.sessions)() as session:
            if await session.scalar(select(ExportRequest.id).where(ExportRequest.claimed_until.is_not(None),
                                                                   ExportRequest.done_at.is_(None))):
                break
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    async with app.sessions() as session, session.begin():
        outbox_store.queue_to_chat(session, app.services.keyring, channel="bench", account="bench", chat_id="police",
                                   person_id=None, now=app.clock.now(), kind="alert",
                                   reply=Reply(text="🔴 KHẨN CẤP — HS-2026-0001: cần hỗ trợ ngay"))
    await app.outbox.drain()
    seconds = time.perf_counter() - started
    NOTES.append("the province export was still being made when the alert was delivered" if not making.done()
                 else "the province export was made before the alert was delivered (too little data to overlap)")
    await making
    await app.outbox.drain()
    return seconds


@check("digest: figures, text, Excel, chart, queued (rolled back)")
async def _digest(bench: Bench) -> None:
    from handlers.office import delivery
    from storage import stats

    app = bench.app
    commune = app.config.commune(bench.commune_id)
    period = stats.week_of(app.clock.now().astimezone(commune.tz).date())
    async with app.sessions() as session:
        async with session.begin():
            said = Outgoing(services=app.services, session=session, at=app.clock.now())
            await delivery.queue_digest(said, commune, stats.week_period(*period.start.isocalendar()[:2]))
            await said.send_queued()
            await session.rollback()


async def _people(app: App, commune_id: str) -> None:
    now = app.clock.now()
    async with app.sessions() as session, session.begin():
        for who, roles in BENCH_PEOPLE.items():
            if await session.scalar(select(Identity).where(Identity.channel == "bench", Identity.external_id == who)):
                continue
            p = await create_person(session, now=now, name=f"Bench {who}", commune_id=None if who == "province"
                                    else commune_id, roles=roles, villages=[], org=None)
            p.phone_asked = True
            await attach_identity(session, p.id, channel="bench", account="bench", external_id=who, chat_id=who,
                                  display_name=who, now=now)


async def _baseline(app: App) -> tuple[float, int]:
    started = time.perf_counter()
    async with app.sessions() as session:
        n = await session.scalar(select(func.count()).select_from(Report))
        await session.scalar(select(func.count()).select_from(Case))
    return time.perf_counter() - started, int(n or 0)


async def measure(url: str) -> tuple[int, int, float, list[tuple[str, float]]]:
    """(communes, reports, baseline seconds, [(check, seconds)]) on the generated data."""
    engine = make_engine(url)
    await migrate(engine)
    config = await config_from_db(session_factory(engine), url)
    await engine.dispose()
    app = App(config, keyring=keyring(url), storage_url=url)
    app.add_channel(Recorder())
    await app.prepare()
    commune_id = config.communes[0].id
    await _people(app, commune_id)
    async with app.sessions() as session:
        ref = await session.scalar(select(Case.ref).where(Case.commune_id == commune_id, Case.status != "closed",
                                                          Case.police_routed.is_(True)).limit(1)) or "HS-0000-0000"
        await session.execute(text("SELECT 1"))
    bench = Bench(app, commune_id)
    year = app.clock.now().year
    baseline, reports = await _baseline(app)
    rows = []
    for name, fn in CHECKS:
        label = name.format(ref=ref, year=year)
        started = time.perf_counter()
        took = await _run_check(bench, fn, ref, year)  # a check may time a part of itself
        rows.append((label, took if isinstance(took, float) else time.perf_counter() - started))
    await app.engine.dispose()
    return len(config.communes), reports, baseline, rows


def headline(communes: int, reports: int, baseline: float) -> str:
    return (f"{communes} commune(s), {reports:,} reports; baseline SELECT count(*) over reports and cases: "
            f"{baseline * 1000:.1f} ms")


async def run(url: str, *, out=print) -> int:
    communes, reports, baseline, rows = await measure(url)
    width = max(len(r[0]) for r in rows)
    out(headline(communes, reports, baseline))
    out(f"{'check'.ljust(width)}  {'ms':>8}  {'× baseline':>10}  under {LIMIT:.0f} s")
    slow = 0
    for label, seconds in rows:
        ok = seconds < LIMIT
        slow += not ok
        out(f"{label.ljust(width)}  {seconds * 1000:8.1f}  {seconds / max(baseline, 1e-6):10.1f}  {'yes' if ok else 'NO'}")
    out(f"{len(rows) - slow}/{len(rows)} under {LIMIT:.0f} s")
    return 0


async def _run_check(bench: Bench, fn: Check, ref: str, year: int):
    """Commands carry {ref} and {year} placeholders, filled from the generated data."""
    original = bench.say

    async def say(who: str, line: str) -> None:
        await original(who, line.format(ref=ref, year=year))

    bench.say = say
    try:
        return await fn(bench)
    finally:
        bench.say = original
