"""Running it for real: `status`, the admin notices, /healthz and /metrics, logs without secrets."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections import namedtuple
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.logs import setup_logging
from bot.status import status_command
from core.events import Delivery, Incoming, Reply
from handlers import admin_notices
from storage import models, outbox
from storage import operations as ops
from storage.db import head_revision
from storage.models import AdminNotice, Identity, OutboxMessage
from tests.fakechannel import FakeChannel, User
from tests.helpers import enrolled, vi

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "7350018244:AAHq3vZt9Wk-emuSecretPart_0123456789x"
Usage = namedtuple("Usage", "total used free")
ROOMY = lambda _path: Usage(100, 50, 50)  # noqa: E731
ATTENTION = vi("⚠️ The bot needs attention")


def telegram_channel(app) -> TelegramChannel:
    """A real TelegramChannel whose status reaches the app; not in the outbox, so nothing is sent."""
    channel = TelegramChannel(TOKEN, app.config.telegram, app.inbox)
    app.channel_status.attach(channel)
    return channel


async def queue_stuck_message(app) -> None:
    async with app.sessions() as s, s.begin():
        outbox.queue_to_chat(s, app.services.keyring, channel="nowhere", account="x", chat_id="42", person_id=None,
                             reply=Reply(text="xin chào"), now=app.clock.now())


async def status(app, **kw) -> tuple[int, str]:
    out = io.StringIO()
    code = await status_command(app.config, url=str(app.engine.url), now=app.clock.now(), out=out,
                                disk_usage=kw.pop("disk_usage", ROOMY), **kw)
    return code, out.getvalue()


def dump(db: Path) -> list[str]:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as conn:
        return list(conn.iterdump())


async def unhealthy(app, clock) -> None:
    """Telegram dropped 20 minutes ago, a message stuck for as long, an urgent alert nobody took."""
    await app.channel_status.started([app.fake])
    telegram = telegram_channel(app)
    telegram.connected = True
    telegram.connected = False
    await app.channel_status.flush()
    await queue_stuck_message(app)
    for who in ("police", "leader", "office"):
        await enrolled(app, who, roles=(who,), villages=(), org=None, name=who)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("Yes"))
    clock.advance(minutes=20)
    await app.channel_status.flush()
    async with app.sessions() as s, s.begin():  # the fake channel is still running
        await ops.touch_channels(s, ["fake"], now=clock.now())


async def test_status_reports_each_problem_and_exits_non_zero(app, clock):
    await unhealthy(app, clock)
    code, out = await status(app)
    assert code == 1, out
    assert "!!  channel telegram  disconnected since 10:00 25/11/2026 (20 min)" in out
    assert "ok  channel fake      connected since 10:00 25/11/2026" in out
    assert "!!  outbox" in out and "1 waiting (nowhere 1), oldest since 10:00 25/11/2026 (20 min)" in out
    assert "!!  alerts" in out and "1 urgent case(s) not acknowledged by anyone (3 alerts sent)" in out
    assert f"schema {head_revision()} (up to date)" in out and "--  digest xuanduong" in out
    assert out.rstrip().endswith("NEEDS ATTENTION: 3 problem(s)")
    # Read-only: nothing was written, not even the schema version.
    code_json, raw = await status(app, as_json=True)
    report = json.loads(raw)
    assert code_json == 1 and report["attention"] is True
    assert {c["name"] for c in report["checks"] if c["attention"]} == {"channel telegram", "outbox", "alerts"}
    # The police take the case: one acknowledgement is enough for the case.
    async with app.sessions() as s, s.begin():
        first = await s.scalar(select(models.Alert).order_by(models.Alert.id))
        first.acknowledged_at = clock.now()
    code, out = await status(app)
    assert "ok  alerts            no unacknowledged urgent alert" in out and "NEEDS ATTENTION: 2 problem(s)" in out


async def test_status_of_a_healthy_deployment_exits_zero(app, clock):
    await app.channel_status.started([app.fake])
    head = await enrolled(app)
    await head.say("/trogiup")
    clock.advance(minutes=3)
    code, out = await status(app)
    assert code == 0, out
    assert "ok  channel fake" in out and "connected since 10:00 25/11/2026" in out
    assert "nothing waiting" in out and "no unacknowledged urgent alert" in out
    assert "Zalo Bot not in use" in out and "commune-field-bot 0.1.0" in out
    assert out.rstrip().endswith("All is well.")
    # A full disk is a problem too.
    code, out = await status(app, disk_usage=lambda _p: Usage(100, 95, 5))
    assert code == 1 and "5% free" in out
    # The commune's emergency numbers left empty (as config.toml ships them): a problem to fix.
    from dataclasses import replace

    from core.config import Phones

    bare = replace(app.config, communes=tuple(replace(c, phones=Phones(police="0208 3000 113"))
                                              for c in app.config.communes))
    out_io = io.StringIO()
    code = await status_command(bare, url=str(app.engine.url), now=app.clock.now(), out=out_io, disk_usage=ROOMY)
    assert code == 1 and "!!  phones xuanduong" in out_io.getvalue()
    assert "[communes.phones] office_duty not set in config.toml" in out_io.getvalue()


async def test_status_runs_from_the_command_line_and_never_writes(app, clock, tmp_path, secret_env):
    await unhealthy(app, clock)
    db = Path(app.engine.url.database)
    before = dump(db)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite+aiosqlite:///data/bot.db"', f'url = "sqlite+aiosqlite:///{db}"'), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN")}
    env.update(BOT_CONFIG=str(config), **secret_env)
    done = subprocess.run([sys.executable, "-m", "bot", "status"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "channel telegram" in done.stdout and "not acknowledged by anyone" in done.stdout
    assert "NEEDS ATTENTION" in done.stdout
    assert dump(db) == before  # not a row changed
    missing = subprocess.run([sys.executable, "-m", "bot", "status"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"}, timeout=60)
    assert missing.returncode == 2 and not (tmp_path / "none.db").exists()


# ---- admin notices ---------------------------------------------------------------------------


@pytest.fixture
async def small_quota_app(config, clock, keyring, db_url):
    """Zalo quota of 10 messages a month, so 8 make 80 %."""
    config = replace(config, operations=replace(config.operations, zalo_monthly_quota=10))
    application = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    application.fake = FakeChannel()
    application.add_channel(application.fake)
    await application.prepare()
    yield application
    await application.engine.dispose()


async def tick(app, admin: User, clock, minutes: float = 1) -> list[str]:
    """Time passes; the scheduler runs; what the admin receives."""
    clock.advance(minutes=minutes)
    async with app.sessions() as s, s.begin():  # the running bot's heartbeat
        await ops.touch_channels(s, ["fake", "telegram"], now=clock.now())
    before = len(admin.messages)
    await app.scheduler.run_due()
    await app.outbox.drain()
    return [m.text for m in admin.messages[before:]]


async def test_admins_are_told_once_of_each_problem_and_once_when_it_is_resolved(small_quota_app, clock,
                                                                                monkeypatch):
    app = small_quota_app
    admin = await enrolled(app, "admin", roles=("admin",), villages=(), org=None, name="Quản Trị")
    await app.channel_status.started([app.fake])
    told: list[str] = []

    # Telegram drops. Ten minutes later (not before) the admin hears of it, once.
    telegram = telegram_channel(app)
    telegram.connected = True
    telegram.connected = False
    await app.channel_status.flush()
    told += await tick(app, admin, clock, 5)
    assert told == []
    told += await tick(app, admin, clock, 6)
    assert told == [ATTENTION + "\n" + vi("The {channel} channel has been down since {since}.", channel="telegram",
                                          since="10:00 25/11/2026") + "\n"
                    + vi("On the server, `python -m bot status` shows the details.")]
    told += await tick(app, admin, clock)

    # A message nobody can deliver; Zalo at 80 %; a token the official account could not renew; a full disk.
    await queue_stuck_message(app)
    async with app.sessions() as s, s.begin():
        for n in range(8):
            s.add(OutboxMessage(channel="zalo_bot", account="z", chat_id=str(n), kind="reply", created_at=clock.now(),
                                due_at=clock.now(), attempts=1, delivered_at=clock.now(), platform_ids=[str(n)]))
        await ops.raise_notice(s, "zalo_oa_token", now=clock.now())
    monkeypatch.setattr(admin_notices, "DISK_USAGE", lambda _p: Usage(1000, 950, 50))
    told += await tick(app, admin, clock)
    told += await tick(app, admin, clock, 16)
    told += await tick(app, admin, clock)
    assert sum(ATTENTION in t for t in told) == 5
    assert any(vi("The disk holding the bot's data has only {percent}% free.", percent=5) in t for t in told)
    assert any(vi("The access token of the Zalo official account could not be renewed. Re-authorise the official "
                  "account (see README).") in t for t in told)
    assert any(vi("Zalo messages used this month: {used} of {quota} ({percent}%). Past the quota Zalo refuses to "
                  "send.", used="8", quota="10", percent=80) in t for t in told)
    assert any(vi("{count} messages have been waiting to be sent for more than {minutes} minutes (the oldest since "
                  "{since}).", count="1", minutes=15, since="10:12 25/11/2026") in t for t in told)

    # Everything gets better: each resolution is told once.
    telegram.connected = True
    await app.channel_status.flush()
    async with app.sessions() as s, s.begin():
        await s.execute(update(OutboxMessage).where(OutboxMessage.channel == "nowhere").values(failed_at=clock.now()))
        await s.execute(update(OutboxMessage).where(OutboxMessage.channel == "zalo_bot").values(
            delivered_at=clock.now() - timedelta(days=40)))
        await ops.resolve_notice(s, "zalo_oa_token", now=clock.now())
    monkeypatch.setattr(admin_notices, "DISK_USAGE", lambda _p: Usage(1000, 500, 500))
    told += await tick(app, admin, clock)
    told += await tick(app, admin, clock)
    told += await tick(app, admin, clock, 30)
    resolved = sorted(t for t in told if t.startswith(vi("✅ Resolved: {problem}.", problem="")[:4]))
    expected = sorted(vi("✅ Resolved: {problem}.", problem=vi(title, channel="telegram")) for title in (
        "the {channel} channel outage", "messages waiting in the outbox", "the Zalo message quota",
        "the Zalo official account's token", "disk space for the data"))
    assert resolved == expected
    assert sum(ATTENTION in t for t in told) == 5
    async with app.sessions() as s:
        assert await ops.open_notices(s) == []


async def test_a_notice_is_raised_once_until_resolved_on_both_databases(any_app, clock):
    async with any_app.sessions() as s, s.begin():
        assert await ops.raise_notice(s, "zalo_oa_token", now=clock.now()) is True
        assert await ops.raise_notice(s, "zalo_oa_token", now=clock.now()) is False
    async with any_app.sessions() as s, s.begin():
        assert [n.key for n in await ops.notices_to_send(s)] == ["zalo_oa_token"]
        (await ops.notices_to_send(s))[0].notified_at = clock.now()
    async with any_app.sessions() as s, s.begin():
        assert await ops.resolve_notice(s, "zalo_oa_token", now=clock.now()) is True
        assert await ops.resolve_notice(s, "zalo_oa_token", now=clock.now()) is False
        assert [n.key for n in await ops.notices_to_send(s)] == ["zalo_oa_token"]  # the resolution, to tell
        assert await ops.raise_notice(s, "zalo_oa_token", now=clock.now()) is True  # it came back


async def test_a_failed_digest_is_told_to_the_admins(app, clock):
    DigestRun = getattr(models, "DigestRun", None)  # noqa: N806 - the digest's table, where it has landed
    if DigestRun is None:
        pytest.skip("no digest in this tree")
    admin = await enrolled(app, "admin", roles=("admin",), villages=(), org=None, name="Quản Trị")
    office = await enrolled(app, "office", roles=("office",), villages=(), org=None, name="Văn Hóa")
    async with app.sessions() as s, s.begin():
        s.add(DigestRun(commune_id="xuanduong", week="2026-W47", claimed_at=clock.now(), missed=[], recipients=1))
        person_id = await s.scalar(select(OutboxMessage.person_id).where(OutboxMessage.chat_id == office.user_id))
        s.add(OutboxMessage(person_id=person_id, channel="fake", account="test", chat_id=office.user_id,
                            kind="digest", created_at=clock.now(), due_at=clock.now(), attempts=12,
                            failed_at=clock.now()))
    await admin_notices.watch(app.services, app.sessions, clock.now())
    await app.outbox.drain()
    assert admin.last.text == "\n".join([
        ATTENTION, vi("The weekly digest of {commune} could not be sent.", commune="UBND xã Xuân Dương"),
        vi("On the server, `python -m bot status` shows the details.")])
    code, out = await status(app)
    assert code == 1 and "(2026-W47) FAILED at 10:00 25/11/2026" in out


# ---- HTTP: health and metrics --------------------------------------------------------------


class FlakyChannel(FakeChannel):
    """Fails its first delivery like a network library would, with the URL (and token) in the error."""

    async def send(self, chat_id: str, reply: Reply, done: int = 0) -> Delivery:
        if not getattr(self, "failed", False):
            self.failed = True
            raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage to 0912345678 failed")
        return await super().send(chat_id, reply)


@pytest.fixture
async def running_app(config, keyring, db_url):
    from core.clock import Clock

    config = replace(config, http=replace(config.http, port=0))
    application = App(config, clock=Clock(), keyring=keyring, storage_url=db_url)
    application.fake = FakeChannel()
    application.fake.fail_next.append(Delivery(ok=False, retry_after=0.05, error="RetryAfter"))
    application.add_channel(application.fake)
    await application.start(http=True)
    yield application
    await application.stop()


async def wait_for(check, timeout: float = 30.0):
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)


async def test_healthz_and_metrics_are_served_over_http(running_app):
    app = running_app
    await app.inbox.put(Incoming(channel="fake", account="test", user_id="u9", chat_id="u9", dedup_key="m1",
                                 text="xin chào 0912345678"))

    async def answered():
        return bool(app.fake.chats.get("u9"))

    await wait_for(answered)  # the first delivery was refused (retry after 0.05 s), the retry got through
    base = f"http://127.0.0.1:{app.http.bound_port}"
    async with aiohttp.ClientSession() as client:
        async with client.get(base + "/healthz") as r:
            assert r.status == 200 and await r.json() == {"status": "ok"}
        async with client.get(base + "/metrics") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
            body = await r.text()
        families = {f.name: f for f in text_string_to_metric_families(body)}
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
        assert samples[("bot_events_processed_total", (("channel", "fake"), ("result", "ok")))] == 1
        assert samples[("bot_event_handling_seconds_count", (("channel", "fake"),))] == 1
        assert samples[("bot_deliveries_total", (("channel", "fake"), ("result", "delivered")))] == 1
        assert samples[("bot_deliveries_total", (("channel", "fake"), ("result", "retry")))] == 1
        assert samples[("bot_alerts_open", ())] == 0
        assert samples[("bot_outbox_failed_messages", ())] == 0
        assert samples[("bot_channel_connected", (("channel", "fake"),))] == 1
        assert "bot_outbox_depth" in families and "bot_info" in families

        # The database goes away: 503, and nothing about why beyond that.
        def broken():
            raise ConnectionError("postgresql://bot:hunter2@db/bot refused")

        app.http.sessions = broken
        async with client.get(base + "/healthz") as r:
            assert r.status == 503 and "hunter2" not in await r.text()


async def test_json_logs_of_a_run_carry_no_token_and_no_phone_number(config, clock, keyring, db_url):
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(fmt="json", stream=stream, extra_secrets=[TOKEN])
        app = App(config, clock=clock, keyring=keyring, storage_url=db_url)
        app.fake = FlakyChannel()
        app.add_channel(app.fake)
        await app.prepare()
        user = User(app, "u7")
        await user.say("xin chào")
        await user.contact("+84912345678")
        for _ in range(3):
            await app.outbox.drain()
        logging.getLogger("bot.test").warning("a request to https://api.telegram.org/bot%s failed for 0912 345 678",
                                              TOKEN)
        await app.engine.dispose()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = stream.getvalue().splitlines()
    assert lines, "the run logged nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"] == "bot.outbox" for r in records)  # the failed delivery, with its traceback
    logs = stream.getvalue()
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs
    for phone in ("0912345678", "912345678", "0912 345 678"):
        assert phone not in logs
    assert "[phone]" in logs


async def test_a_full_zalo_bot_refuses_new_enrolments_and_the_admins_see_it_coming(app, clock):
    """The free Zalo Bot plan serves 50 people per bot: from 40 the admins are told (and whoever makes
    an invite), at the limit a new person is pointed to Telegram or the official account, the invite
    stays unused, and the emergency number is in the refusal."""
    from handlers.admin_notices import check
    from storage.models import Invite
    from storage.people import attach_identity, create_person
    from tests.fakechannel import PlainUser, declare
    from tests.helpers import make_invite

    declare(app, app.plain, max_users=1)  # a plan for one person, on the channel without buttons
    first = PlainUser(app, "z-first")
    await first.say(f"/start {await make_invite(app)}")
    second = PlainUser(app, "z-second")
    code = await make_invite(app)
    refused = await second.say(f"/start {code}")
    assert refused[-1] == vi("This Zalo bot already serves the {n} people its plan allows, so it cannot enrol anyone "
                             "else. Please ask the office for an invite to use on Telegram or on the commune's Zalo "
                             "official account. If someone is in danger, call 113 now.", n=1)
    async with app.sessions() as s:  # the second invite is still unused: it works on another channel
        assert len((await s.scalars(select(Invite).where(Invite.used_by.is_(None)))).all()) == 1
    # Nor can someone enrolled elsewhere link this full bot with /lienket; their code stays usable.
    elsewhere = await enrolled(app, "tg-linker")
    [shown] = await elsewhere.say("/lienket")
    link_code = shown.split("/lienket ", 1)[1].split()[0]
    refused = await PlainUser(app, "z-linker").say(f"/lienket {link_code}")
    assert refused[-1] == vi("This Zalo bot already serves the {n} people its plan allows, so it cannot enrol anyone "
                             "else. Please ask the office for an invite to use on Telegram or on the commune's Zalo "
                             "official account. If someone is in danger, call 113 now.", n=1)
    async with app.sessions() as s:
        assert await s.scalar(select(Identity).where(Identity.external_id == "z-linker")) is None

    async with app.sessions() as s, s.begin():  # forty people on one Zalo bot
        for n in range(40):
            p = await create_person(s, now=clock.now(), name=f"z{n}", commune_id="xuanduong", roles=["reporter"],
                                    villages=["t01"], org="village_head", lang="vi")
            await attach_identity(s, p.id, channel="zalo_bot", account="111", external_id=f"zb{n}",
                                  chat_id=f"zb{n}", display_name="", now=clock.now())
    async with app.sessions() as s, s.begin():
        await check(s, app.config, clock.now(), zalo_users=50)
    async with app.sessions() as s:
        rows = (await s.scalars(select(AdminNotice).where(AdminNotice.key == "zalo_users:111"))).all()
    assert [(r.params["used"], r.params["limit"]) for r in rows] == [(40, 50)]
    async with app.sessions() as s, s.begin():  # 10 messages by 10:00 on 25/11: 24 days and 10 hours in
        for n in range(10):
            s.add(OutboxMessage(person_id=None, channel="zalo_bot", account="111", chat_id=f"zb{n}", kind="push",
                                payload=b"x", created_at=clock.now(), due_at=clock.now(), attempts=1,
                                delivered_at=clock.now(), platform_ids=[f"p{n}"]))
    _, out = await status(app)
    assert "40 of 50 people this bot may serve" in out
    # 10 × 30 days / 24.4 days elapsed (from 00:00 on 01/11, Hà Nội time) = 12.3: about 12 by the end.
    assert "10 of 3000 messages this month (0%); at this rate 12 by the month's end" in out
    admin = await enrolled(app, "admin", roles=("admin",), villages=(), org=None, name="Quản Trị")
    await admin.say("/moi")
    replies = await admin.press(vi("reporter"))
    replies = await admin.press("Thôn 1")
    assert vi("Note: the Zalo bot already serves {used} of the {limit} people its plan allows. Past that nobody new "
              "can enrol there: this code also works on Telegram and the Zalo official account.", used=40,
              limit=50) in replies
