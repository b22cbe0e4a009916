"""Random and malformed updates through the real router: nothing escapes, strangers store nothing."""

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import App
from core.clock import FakeClock
from core.events import Incoming
from storage.models import Case, Draft, InboxEvent, Person, Report
from tests.conftest import START, _migrated
from tests.fakechannel import FakeChannel
from tests.helpers import enrolled

NASTY = st.sampled_from([
    "<b>x</b>", "</i>", "&", "'; DROP TABLE reports; --", "\x00\x01\x1b[31m", "31/02/2026", "99/99/9999",
    "1" * 5000, "x" * 100_000, "/start", "/start ABCDEFGH", "/baocao", "/baotin", "/huy", "/cuatoi BC-2026-9999",
    "/moi", "NHAN HS-2026-0001", "1 2 3", "-5", "hôm qua", "", " ", "🙂" * 300, "\u202e\u200b", "/ngonngu xx",
])
TEXT = st.one_of(NASTY, st.text(max_size=300))
CHOICE = st.one_of(st.sampled_from(["f1:o0", "f2:t99", "f0:ok", "a:1", "a:x", "r:BC", "h:HS-1", "l:zz", "i:admin",
                                    "m:moi", "m:nope", "p:skip", "zz", ""]), st.text(max_size=64))
EVENT = st.one_of(
    st.builds(lambda t: {"kind": "text", "text": t}, TEXT),
    st.builds(lambda c: {"kind": "choice", "choice": c}, CHOICE),
    st.builds(lambda k: {"kind": k}, st.sampled_from(["sticker", "unsupported", "location", "group", "edited"])),
    st.builds(lambda b: {"kind": "photo", "photo": b}, st.binary(max_size=200)),
    st.builds(lambda p: {"kind": "contact", "contact_phone": p}, st.text(max_size=30)),
)


async def _run(config, keyring, tmp_path_factory, events: list[dict], who: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'h.db'}"
        await _migrated(url, keyring, tmp_path_factory)  # a fresh database each example, already migrated
        app = App(config, clock=FakeClock(START), keyring=keyring, storage_url=url)
        app.fake = FakeChannel()
        app.add_channel(app.fake)
        await app.prepare()
        if who == "reporter":
            await enrolled(app, "member")
        for n, fields in enumerate(events):
            await app.inbox.put(Incoming(channel="fake", account="test", user_id=who if who != "reporter" else "member",
                                         chat_id="c", dedup_key=f"h{n}", **fields))
        await app.router.run_until_idle()
        await app.outbox.drain()
        async with app.sessions() as s:
            counts = {m.__name__: await s.scalar(select(func.count()).select_from(m))
                      for m in (Person, Report, Draft, Case)}
            counts["errors"] = await s.scalar(select(func.count()).select_from(InboxEvent)
                                              .where(InboxEvent.error.is_not(None)))
            counts["pending"] = await s.scalar(select(func.count()).select_from(InboxEvent)
                                               .where(InboxEvent.processed_at.is_(None)))
        await app.engine.dispose()
        return counts


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=1, max_size=12))
def test_strangers_store_nothing_whatever_they_send(config, keyring, tmp_path_factory, events):
    counts = asyncio.run(_run(config, keyring, tmp_path_factory, events, "stranger"))
    assert counts == {"Person": 0, "Report": 0, "Draft": 0, "Case": 0, "errors": 0, "pending": 0}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=1, max_size=12))
def test_a_reporter_sending_garbage_never_crashes_a_handler(config, keyring, tmp_path_factory, events):
    counts = asyncio.run(_run(config, keyring, tmp_path_factory, events, "reporter"))
    assert counts["errors"] == 0 and counts["pending"] == 0 and counts["Person"] == 1
