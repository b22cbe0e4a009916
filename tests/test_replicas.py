"""Two replicas on one PostgreSQL database: one person's events in order and once, one draft;
one migration; scheduled work once."""

import asyncio
import json
import re
import time

from sqlalchemy import func, select

from bot.app import App
from core.events import Incoming
from storage.db import head_revision, make_engine, migrate, schema_version
from storage.models import Draft, InboxEvent, OutboxMessage, Report
from tests.helpers import app_on, make_invite, vi


async def replica(config, clock, keyring, url) -> App:
    return await app_on(config, clock, keyring, url)


async def test_two_replicas_take_one_persons_updates_in_order_and_once(config, clock, keyring, pg_url):
    one, two = await replica(config, clock, keyring, pg_url), await replica(config, clock, keyring, pg_url)
    code = await make_invite(one)
    # "hôm qua" (24/11/2026) falls in the Action Month for Gender Equality: "không" to being part of it.
    answers = [f"/start {code}", "bỏ qua", "/baocao", "1", "hôm qua", "không", "1", "1 2 xong", "120", "50", "70",
               "không", "xong", "xác nhận"]
    runners = [asyncio.create_task(r.router.run(idle_seconds=0.05)) for r in (one, two)]
    try:
        for n, text in enumerate(answers):  # a load balancer sends them alternately
            target = (one, two)[n % 2]
            clock.advance(seconds=2)
            await target.inbox.put(Incoming(channel="fake", account="test", user_id="u1", chat_id="u1",
                                            dedup_key=f"r{n}", text=text, message_id=f"m{n}"))
            # the platform redelivers every third update to the other replica
            if n % 3 == 0:
                await (two, one)[n % 2].inbox.put(Incoming(channel="fake", account="test", user_id="u1",
                                                           chat_id="u1", dedup_key=f"r{n}", text=text))
        deadline = time.monotonic() + 60  # a deadline only: on a busy machine the replicas are slower
        while time.monotonic() < deadline:
            async with one.sessions() as s:
                pending = await s.scalar(select(func.count()).select_from(InboxEvent)
                                         .where(InboxEvent.processed_at.is_(None)))
            if not pending:
                break
            await asyncio.sleep(0.05)
    finally:
        for r in (one, two):
            await r.router.stop()
        for t in runners:
            t.cancel()
    async with one.sessions() as s:
        events = (await s.scalars(select(InboxEvent).order_by(InboxEvent.id))).all()
        assert len(events) == len(answers) and all(e.processed_at and not e.error for e in events)
        # the questions went out in order: each step once, never going back
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply")
                                .order_by(OutboxMessage.id))).all()
        texts = [json.loads(keyring.decrypt(r.payload))["text"] for r in rows]
        steps = [m.group(1) for t in texts if (m := re.search(r"· Bước (\d+/\d+\n)", t))]
        # the campaign yes/no shares the date's number (2/8)
        assert steps == ["1/8\n", "2/8\n", "2/8\n"] + [f"{i}/8\n" for i in range(3, 9)] + ["1/1\n"], texts
        [report] = (await s.scalars(select(Report))).all()
        assert (report.attendees_total, report.attendees_male, report.attendees_female) == (120, 50, 70)
        assert await s.scalar(select(func.count()).select_from(Draft)) == 0
    await one.outbox.drain()
    await two.outbox.drain()
    texts = [m.text for r in (one, two) for m in r.fake.chats.get("u1", [])]
    assert any(vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001") == t
               for t in texts)
    for r in (one, two):
        await r.engine.dispose()


async def test_two_replicas_starting_together_migrate_once(pg_url):
    engines = [make_engine(pg_url), make_engine(pg_url)]
    await asyncio.gather(*(migrate(e) for e in engines))
    assert await schema_version(engines[0]) == head_revision()
    async with engines[0].connect() as conn:
        from sqlalchemy import text

        assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar() == 1
    for e in engines:
        await e.dispose()


async def test_a_person_revoked_on_one_replica_is_refused_at_their_next_message_on_the_other(
        config, clock, keyring, pg_url):
    """Nothing about who may do what is cached between steps: the step's one read sees the revocation."""
    from tests.helpers import enrolled

    one, two = await replica(config, clock, keyring, pg_url), await replica(config, clock, keyring, pg_url)
    reporter = await enrolled(one, "u1")
    admin = await enrolled(two, "u9", roles=("admin",), name="Trần Thị Quản")
    await reporter.say("/baocao")  # on replica one: a draft is open
    async with one.sessions() as s:
        person_id = await s.scalar(select(func.min(Draft.person_id)))
    await admin.say(f"/thuhoi {person_id}")
    said = await admin.press(vi("Revoke"))
    assert any("#" + str(person_id) in t for t in said), said
    answer = await reporter.say("/baocao")  # on replica one again
    assert answer and not any(vi("Which village was the session held in?") in t for t in answer), answer
    async with one.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Draft)) == 0
    for r in (one, two):
        await r.engine.dispose()
