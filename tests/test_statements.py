"""What one step costs the database, counted statement by statement (not timed): the running
bot's loops, from the moment the update is stored until its replies are delivered and recorded.

Bound (issue "one transaction per step"): a typed answer and a button press take at most 8 SQL
statements and 3 commits — ingest, the step, the delivery records."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select

from tests.helpers import app_on, enrolled, make_invite, vi, walk_to_review

MAX_STATEMENTS = 8
MAX_COMMITS = 3
MAX_CONFIRM_STATEMENTS = 12  # saving a report: its number, its rows, the draft ended, the replies


class Wire:
    """Every statement the engine sends, and every commit. On SQLite what the writer's sqlite3
    connection itself runs (its trace callback: the hot path's writes go to it directly,
    storage/direct.py); elsewhere what SQLAlchemy sends to the driver."""

    def __init__(self, engine) -> None:
        self.statements: list[str] = []
        self.commits = 0
        self.on = False
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "checkout", self._traced)
        else:
            event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
            event.listen(engine.sync_engine, "commit", self._commit)

    def _traced(self, dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.driver_connection.raw.set_trace_callback(self._trace)

    def _trace(self, statement: str) -> None:
        if not self.on:
            return
        head = statement.lstrip().upper()
        if head.startswith("COMMIT"):
            self.commits += 1
        elif not head.startswith(("BEGIN", "ROLLBACK")):
            self.statements.append(" ".join(statement.split()[:6]))

    def _statement(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        if self.on and not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            self.statements.append(" ".join(statement.split()[:6]))

    def _commit(self, _conn) -> None:
        if self.on:
            self.commits += 1


async def _settled(app, user, before: int) -> None:
    """The reply is shown and every result recorded: nothing of this step is left to write."""
    outbox = app.outbox
    for _ in range(1000):
        await asyncio.sleep(0.005)
        recording = outbox._recorder is not None and not outbox._recorder.done()
        if len(user.messages) > before and not outbox._sending and not outbox._results and not recording \
                and not app.router._busy:
            return
    raise AssertionError(f"the step did not settle; shown: {[m.text for m in user.messages[before:]]}")


async def _count(app, wire: Wire, user, act) -> tuple[int, int, list[str]]:
    before = len(user.messages)
    wire.statements.clear()
    wire.commits = 0
    wire.on = True
    await act()
    await _settled(app, user, before)
    wire.on = False
    return len(wire.statements), wire.commits, list(wire.statements)


async def start_quiet(app, wire: Wire) -> None:
    """The loops running, their start-up scans over; the scheduler's jobs and the periodic safety
    nets kept out of the count (they are not the step's)."""
    app.scheduler.jobs = []
    app.outbox.SCAN_SECONDS = app.router.SCAN_SECONDS = app.outbox.RENEW_SECONDS = 60.0
    await app.start(http=False)
    wire.on = True
    for _ in range(200):
        seen = len(wire.statements)
        await asyncio.sleep(0.05)
        if len(wire.statements) == seen:
            break
    wire.on = False


class Running:
    """The user's messages go through the running bot: nothing is drained by hand."""

    def __init__(self, user) -> None:
        self.user = user

    async def put(self, **kwargs) -> None:
        from itertools import count

        from core.events import Incoming

        user = self.user
        user.app.clock.advance(seconds=2)
        key = f"w{next(_keys)}"
        await user.app.inbox.put(Incoming(
            channel=user.channel, account="test", user_id=user.user_id, chat_id=user.user_id, dedup_key=key,
            display_name=user.name, message_id=None if "choice" in kwargs else f"m-{key}", **kwargs))
        del count


_keys = iter(range(10**9))


def _bounded(kind: str, counted: tuple[int, int, list[str]]) -> None:
    statements, commits, seen = counted
    print(f"{kind}: {statements} statements, {commits} commits")  # the README's figures (pytest -s)
    assert statements <= MAX_STATEMENTS and commits <= MAX_COMMITS, (
        f"{kind}: {statements} statements, {commits} commits (bound {MAX_STATEMENTS}, {MAX_COMMITS}):\n  "
        + "\n  ".join(seen))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_typed_answer_and_a_press_stay_within_the_bound(backend, request, config, clock, keyring, db_url):
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    app = await app_on(config, clock, keyring, url)
    user = await enrolled(app)
    await user.say("/baocao")
    wire = Wire(app.engine)
    await start_quiet(app, wire)
    try:
        running = Running(user)
        pressed = await _count(app, wire, user, lambda: running.put(choice=user.button("Thôn 3").data, kind="choice"))
        assert "hôm qua" in user.last.text.lower() or vi("Yesterday") in user.last.labels
        _bounded("press (edits the question, asks the next)", pressed)
        typed = await _count(app, wire, user, lambda: running.put(text="hôm qua", kind="text"))
        _bounded("typed answer", typed)
        assert user.last.labels, "the next question (with its buttons) was shown"
    finally:
        await app.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_saving_a_report_stays_within_its_own_bound(backend, request, config, clock, keyring, db_url):
    """The confirm press writes the report, its topics and languages and the audit line, and ends
    the draft: more statements than a question, still three commits (ingest, step, records)."""
    from storage.models import Report

    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    app = await app_on(config, clock, keyring, url)
    user = await enrolled(app)
    await walk_to_review(user)
    wire = Wire(app.engine)
    await start_quiet(app, wire)
    try:
        statements, commits, seen = await _count(app, wire, user, lambda: Running(user).put(
            choice=user.button(vi("Confirm")).data, kind="choice"))
        print(f"confirm (the report saved): {statements} statements, {commits} commits")
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Report)) == 1
        assert statements <= MAX_CONFIRM_STATEMENTS and commits <= MAX_COMMITS, "\n  ".join(seen)
    finally:
        await app.stop()


async def test_the_counter_sees_a_step_that_reads_too_much(app, monkeypatch):
    """The bound can fail: a step that reads its draft once more is counted."""
    from storage import drafts

    user = await enrolled(app)
    await user.say("/baocao")
    monkeypatch.setattr(drafts, "cached_draft", lambda *_a: (False, None))  # the draft read again
    wire = Wire(app.engine)
    await start_quiet(app, wire)
    try:
        statements, _commits, seen = await _count(app, wire, user, lambda: Running(user).put(
            choice=user.button("Thôn 3").data, kind="choice"))
        assert any(s.startswith("SELECT drafts") for s in seen), seen
        assert statements >= 6
    finally:
        await app.stop()


async def test_a_stranger_s_first_message_is_answered(app):
    """A cold first message (nobody knows the chat): answered, and counted for the record."""
    code = await make_invite(app)
    wire = Wire(app.engine)
    await start_quiet(app, wire)
    try:
        from tests.fakechannel import User

        stranger = User(app, "cold")
        statements, commits, _ = await _count(app, wire, stranger, lambda: Running(stranger).put(
            text=f"/start {code}", kind="text"))
        assert stranger.messages, "the stranger got an answer"
        assert commits <= 4 and statements <= 30
    finally:
        await app.stop()


async def _officers(app, first: int, count: int, *, channel: str = "telegram") -> None:
    from storage.people import attach_identity, create_person

    now = app.clock.now()
    async with app.sessions() as s, s.begin():
        for n in range(first, first + count):
            person = await create_person(s, now=now, name=f"Cán bộ {n}", commune_id="xuanduong", roles=["office"],
                                         villages=[], org=None)
            await attach_identity(s, person.id, channel=channel, account="test", external_id=f"o{n}",
                                  chat_id=f"o{n}", display_name=f"Cán bộ {n}", now=now)


async def test_the_daily_reach_jobs_cost_the_same_for_10_or_200_alert_recipients(app):
    """Who an urgent alert would not reach is read in a fixed number of statements, however many
    receive alerts (a province's office holds thousands), and nobody unreachable means no write
    transaction: the daily jobs never hold the write lock while the urgent path waits."""
    from handlers.reachability import nudge_before_the_window_closes, tell_admins_who_cannot_be_reached

    app.clock.advance(hours=max(0, 9 - app.clock.now().astimezone(app.services.config.communes[0].tz).hour))
    wire = Wire(app.engine)
    counts = []
    for first, count in ((0, 10), (10, 190)):
        await _officers(app, first, count)
        wire.statements.clear()
        wire.commits = 0
        wire.on = True
        assert await tell_admins_who_cannot_be_reached(app.services, app.sessions, app.clock.now()) == 0
        assert await nudge_before_the_window_closes(app.services, app.sessions, app.clock.now()) == 0
        wire.on = False
        writes = [s for s in wire.statements if not s.upper().startswith(("SELECT", "PRAGMA"))]
        assert not writes, writes
        counts.append(len(wire.statements))
    assert counts[0] == counts[1] and counts[1] <= 8, (counts, wire.statements)
