"""A database and outbox left by the release before the one-transaction step, at the moment of the
upgrade: the process stopped with an event stored but not handled, a reply it had claimed but not
recorded, and an older reply to the same chat never claimed. The new runtime takes all of it up:
nothing is handed over in memory after a restart, so this is the database scan's work. The old
rows are sealed as that release sealed them, with Fernet (storage/crypto.py still reads it)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import insert, select, update

from bot.app import App
from storage.models import Draft, InboxEvent, OutboxMessage
from tests.fakechannel import FakeChannel
from tests.helpers import enrolled, vi


def _old_reply(text: str) -> bytes:
    """A reply as the previous release encrypted it into an outbox row (Reply.to_dict of then)."""
    return json.dumps({"text": text, "choices": [], "columns": 1, "tag": None, "edit": False, "photo": None,
                       "file": None}, ensure_ascii=False).encode()


def _fernet(secret_env) -> Fernet:
    return Fernet(secret_env["BOT_SECRET_KEY"].encode())


async def test_an_upgrade_takes_up_a_stored_event_and_the_replies_left_claimed(config, clock, keyring, db_url, app,
                                                                               secret_env):
    old = _fernet(secret_env)
    user = await enrolled(app)
    await user.say("/baocao")
    await user.press("Thôn 3")  # the draft now waits for the date, as the old release left it
    async with app.sessions() as s, s.begin():
        draft = (await s.scalars(select(Draft))).one()
        person_id = draft.person_id
        # The draft too, as the old release sealed it.
        await s.execute(update(Draft).where(Draft.id == draft.id).values(state=old.encrypt(keyring.decrypt(draft.state))))
        now = clock.now()
        # The previous release's rows, written as it wrote them.
        await s.execute(insert(OutboxMessage).values(
            person_id=person_id, channel="fake", account="test", chat_id="u1", kind="push", tag=None,
            payload=old.encrypt(_old_reply("Nhắc việc cũ: chưa ai nhận")), created_at=now, due_at=now,
            attempts=0))
        await s.execute(insert(OutboxMessage).values(
            person_id=person_id, channel="fake", account="test", chat_id="u1", kind="push", tag=None,
            payload=old.encrypt(_old_reply("Nhắc việc cũ: đang gửi khi tắt máy")), created_at=now, due_at=now,
            attempts=0, claimed_until=now + timedelta(seconds=120)))
        from core.events import Incoming

        event = Incoming(channel="fake", account="test", user_id="u1", chat_id="u1", dedup_key="old-1",
                         text="hôm qua", display_name=user.name, message_id="m-old-1")
        await s.execute(insert(InboxEvent).values(
            channel="fake", account="test", dedup_key="old-1", conv_key=event.conv_key,
            order_key=f"person:{person_id}", payload=old.encrypt(event.to_json()), received_at=now, attempts=0))
    platform = app.fake
    await app.engine.dispose()

    upgraded = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    upgraded.fake = FakeChannel()
    upgraded.fake.chats = platform.chats  # the same chat on the platform
    upgraded.add_channel(upgraded.fake)
    before = len(platform.chats["u1"])
    await upgraded.start(http=False)
    try:
        for _ in range(500):
            await asyncio.sleep(0.01)
            async with upgraded.sessions() as s:
                left = (await s.scalars(select(OutboxMessage.id).where(OutboxMessage.delivered_at.is_(None)))).all()
                pending = (await s.scalars(select(InboxEvent.id).where(InboxEvent.processed_at.is_(None)))).all()
            if not left and not pending and len(platform.chats["u1"]) > before + 2:
                break
        shown = [m.text for m in platform.chats["u1"][before:]]
        assert shown[:2] == ["Nhắc việc cũ: chưa ai nhận", "Nhắc việc cũ: đang gửi khi tắt máy"], shown
        assert any("Bước 3/" in t or "Tháng hành động" in t or "bình đẳng giới" in t for t in shown[2:]), shown
        assert not left and not pending
    finally:
        await upgraded.stop()


async def test_a_photo_event_the_previous_release_stored_with_its_bytes_is_handled(config, clock, keyring, db_url,
                                                                                 app, secret_env):
    """Before bot/media.py, a photo was downloaded before its update was stored, and the inbox row
    held its bytes (hex) with no photo_ref. Such a row, left pending by the upgrade, is handled."""
    import io

    from PIL import Image

    from storage.models import Photo

    user = await enrolled(app)
    for typed in ("/baocao", "1", "hôm qua", "2", "1", "1 xong", "120", "50", "70", "2"):
        await user.say(typed)
    picture = io.BytesIO()
    Image.new("RGB", (2000, 1500), (200, 40, 40)).save(picture, "JPEG")
    async with app.sessions() as s, s.begin():
        person_id = (await s.scalars(select(Draft.person_id))).one()
        old = {"channel": "fake", "account": "test", "user_id": "u1", "chat_id": "u1", "dedup_key": "old-photo",
               "text": None, "choice": None, "photo": picture.getvalue().hex(), "contact_phone": None,
               "location": None, "kind": "photo", "display_name": user.name, "lang_hint": None, "sent_at": None,
               "message_id": "m-old-photo"}
        await s.execute(insert(InboxEvent).values(
            channel="fake", account="test", dedup_key="old-photo", conv_key="fake:test:u1",
            order_key=f"person:{person_id}", payload=_fernet(secret_env).encrypt(json.dumps(old).encode()),
            received_at=clock.now(), attempts=0))
    platform = app.fake
    await app.engine.dispose()

    upgraded = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    upgraded.fake = FakeChannel()
    upgraded.fake.chats = platform.chats
    upgraded.add_channel(upgraded.fake)
    before = len(platform.chats["u1"])
    await upgraded.start(http=False)
    try:
        for _ in range(500):
            await asyncio.sleep(0.01)
            if len(platform.chats["u1"]) > before:
                break
        assert platform.chats["u1"][before].text == vi("Photo {n} received. Send another, or press Done.", n=1)
        async with upgraded.sessions() as s:
            [photo] = (await s.scalars(select(Photo))).all()
        assert photo.person_id == person_id and max(Image.open(io.BytesIO(photo.data)).size) == 1600
    finally:
        await upgraded.stop()


async def test_digest_runs_the_previous_release_claimed_count_as_queued(config, clock, keyring, tmp_path):
    """Before batches, a claimed week had all its recipients queued in the claim's transaction: after
    the upgrade such a run is finished, never taken for one a crash left half queued."""
    from sqlalchemy import text

    from handlers.office import delivery
    from storage.db import make_engine, migrate
    from storage.models import DigestRun
    from tests.test_phones_at_rest import _at_revision

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    await _at_revision(engine, "0013")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO communes (id, name) VALUES ('xuanduong', 'Xuân Dương')"))
        await conn.execute(text("INSERT INTO digest_runs (commune_id, week, claimed_at, missed, recipients) "
                                "VALUES ('xuanduong', '2026-W47', :at, '[]', 3)"), {"at": clock.now() - timedelta(days=9)})
    await migrate(engine, keyring)
    await engine.dispose()
    upgraded = App(config, clock=clock, keyring=keyring, storage_url=url)
    upgraded.add_channel(FakeChannel())
    await upgraded.prepare()
    try:
        async with upgraded.sessions() as s:
            (run,) = (await s.scalars(select(DigestRun))).all()
            assert (run.week, run.recipients, run.queued_through) == ("2026-W47", 3, None)
        assert await delivery._resume(upgraded.services, upgraded.sessions, config.communes[0], clock.now()) == 0
    finally:
        await upgraded.engine.dispose()
