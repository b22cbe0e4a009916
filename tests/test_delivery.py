"""The outbox: retries, retry_after, order per chat, and a push nobody can receive is reported."""



from sqlalchemy import select

from core.events import Choice, Delivery, Reply
from storage.models import OutboxMessage
from storage.outbox import queue_to_person
from tests.helpers import enrolled, vi


async def push(app, person_user, text: str, kind: str = "push") -> None:
    from storage.models import Identity

    async with app.sessions() as s, s.begin():
        ident = await s.scalar(select(Identity).where(Identity.external_id == person_user.user_id))
        await queue_to_person(s, app.services.keyring, ident.person_id, Reply(text=text), now=app.clock.now(),
                              kind=kind)


async def test_a_429_is_retried_after_the_time_the_platform_asks_and_order_is_kept(app, clock):
    head = await enrolled(app)
    app.fake.fail_next = [Delivery(ok=False, retry_after=30, error="RetryAfter")]
    await push(app, head, "một")
    await push(app, head, "hai")
    await app.outbox.drain()
    assert [m.text for m in head.messages[-2:]] != ["một", "hai"]  # nothing yet: the first waits
    clock.advance(seconds=29)
    await app.outbox.drain()
    assert "một" not in [m.text for m in head.messages]
    clock.advance(seconds=2)
    await app.outbox.drain()
    assert [m.text for m in head.messages[-2:]] == ["một", "hai"]


async def test_a_network_error_backs_off_and_then_delivers(app, clock):
    head = await enrolled(app)
    app.fake.fail_next = [Delivery(ok=False, error="NetworkError")] * 3
    await push(app, head, "ba")
    for _ in range(4):
        await app.outbox.drain()
        clock.advance(seconds=20)
    await app.outbox.drain()
    assert head.last.text == "ba"
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "push"))
        assert row.delivered_at and row.attempts == 4 and row.payload is None


async def test_a_push_that_no_channel_can_deliver_is_reported_to_the_admins(app, clock):
    admin = await enrolled(app, "adm", roles=("admin",), villages=(), org=None, name="Admin")
    head = await enrolled(app)
    app.fake.fail_next = [Delivery(ok=False, permanent=True, error="Forbidden: bot was blocked by the user")]
    await push(app, head, "thông báo")
    await app.outbox.drain()
    assert admin.last.text == vi("A message to {name} could not be delivered on any of their channels ({reason}). "
                                 "It is kept in the outbox; please contact them another way.", name="Hoàng Văn Ba",
                                 reason="Forbidden")



async def _plain_and_buttons(app):
    """One person with the button channel (preferred) and the plain channel."""
    from storage.people import attach_identity, create_person

    async with app.sessions() as s, s.begin():
        p = await create_person(s, now=app.clock.now(), name="Lò Thị Hoa", commune_id="xuanduong",
                                roles=["reporter"], villages=["t01"], org="village_head", lang="vi")
        p.phone_asked = True
        await attach_identity(s, p.id, channel="plain", account="test", external_id="p9", chat_id="p9",
                              display_name="Hoa", now=app.clock.now())
        await attach_identity(s, p.id, channel="fake", account="test", external_id="f9", chat_id="f9",
                              display_name="Hoa", now=app.clock.now())
        p.preferred_channel = "fake"
        return p.id


LIST = Reply(text="Chọn một", choices=(Choice("Thôn 1", "x:1"), Choice("Thôn 2", "x:2"),
                                       Choice("Hủy", "x:c", control=True, keyword="huy")))


async def test_a_list_pushed_to_a_chat_without_buttons_is_registered_there_when_queued(app):
    from handlers.context import Outgoing
    from storage.models import ChatList

    person_id = await _plain_and_buttons(app)
    async with app.sessions() as s, s.begin():
        out = Outgoing(services=app.services, session=s, at=app.clock.now())
        out.alert(person_id, LIST)  # on every channel: the plain one numbers it
        assert await out.send_queued() == 1
    async with app.sessions() as s:
        plain = await s.get(ChatList, "plain:test:p9")
        assert plain.items == [["x:1", "Thôn 1"], ["x:2", "Thôn 2"]]  # the control is typed, not numbered
        assert await s.get(ChatList, "fake:test:f9") is None  # buttons: nothing to number


async def test_a_push_that_falls_back_to_a_chat_without_buttons_registers_its_list(app):
    from storage.models import ChatList

    person_id = await _plain_and_buttons(app)
    app.fake.fail_next = [Delivery(ok=False, permanent=True, error="Forbidden: bot was blocked by the user")]
    async with app.sessions() as s, s.begin():
        await queue_to_person(s, app.services.keyring, person_id, LIST, now=app.clock.now())
    await app.outbox.drain()
    async with app.sessions() as s:
        assert (await s.get(ChatList, "plain:test:p9")).items == [["x:1", "Thôn 1"], ["x:2", "Thôn 2"]]
    assert "1. Thôn 1" in app.plain.chats["p9"][-1].text


async def test_an_urgent_alert_never_waits_behind_a_broadcast(app):
    """Two hundred digests queued before it: the alert goes out in the outbox's first pass."""
    from handlers.context import Outgoing
    from storage.people import attach_identity, create_person

    async with app.sessions() as s, s.begin():
        ids = []
        for n in range(201):
            p = await create_person(s, now=app.clock.now(), name=f"n{n}", commune_id="xuanduong", roles=["office"],
                                    villages=[], org=None, lang="vi")
            await attach_identity(s, p.id, channel="fake", account="test", external_id=f"b{n}", chat_id=f"b{n}",
                                  display_name="x", now=app.clock.now())
            ids.append(p.id)
        out = Outgoing(services=app.services, session=s, at=app.clock.now())
        for person_id in ids[:200]:
            out.push(person_id, Reply(text="BẢN TIN TỔNG HỢP TUẦN"), kind="digest")
        await out.send_queued()
    async with app.sessions() as s, s.begin():
        out = Outgoing(services=app.services, session=s, at=app.clock.now())
        out.alert(ids[200], Reply(text="🔴 KHẨN CẤP — HS-2026-0001"))
        await out.send_queued()
    await app.outbox.deliver_due(limit=30)  # one pass
    assert [m.text for m in app.fake.chats["b200"]] == ["🔴 KHẨN CẤP — HS-2026-0001"]
    assert sum(1 for n in range(200) if app.fake.chats.get(f"b{n}")) == 29  # the rest of the pass, oldest first


async def test_a_broadcast_larger_than_one_claim_goes_out_without_waiting_for_the_next_scan(app):
    """A job queued 250 messages, more than one scan claims (Outbox.BATCH): the outbox takes the
    next batch as the first runs low, not after its idle scan (60 s here), which had capped a
    3,000-recipient digest at 22 of Telegram's 30 messages a second."""
    import asyncio

    from storage import outbox as outbox_store

    async with app.sessions() as s, s.begin():
        for n in range(250):
            outbox_store.queue_to_chat(s, app.services.keyring, channel="fake", account="test", chat_id=f"d{n}",
                                       person_id=None, reply=Reply(text="BẢN TIN TỔNG HỢP TUẦN"), now=app.clock.now(),
                                       kind="digest")
    app.outbox.SCAN_SECONDS = 60.0
    runner = asyncio.create_task(app.outbox.run())
    try:
        for _ in range(500):
            await asyncio.sleep(0.01)
            if sum(1 for n in range(250) if app.fake.chats.get(f"d{n}")) == 250:
                break
        assert sum(1 for n in range(250) if app.fake.chats.get(f"d{n}")) == 250
    finally:
        app.outbox.stop()
        await runner


async def _people(app, n: int, prefix: str) -> list[int]:
    from storage.people import attach_identity, create_person

    ids = []
    async with app.sessions() as s, s.begin():
        for i in range(n):
            p = await create_person(s, now=app.clock.now(), name=f"{prefix}{i}", commune_id="xuanduong",
                                    roles=["office"], villages=[], org=None, lang="vi")
            await attach_identity(s, p.id, channel="fake", account="test", external_id=f"{prefix}{i}",
                                  chat_id=f"{prefix}{i}", display_name="x", now=app.clock.now())
            ids.append(p.id)
    return ids


WORKBOOK = b"PK\x03\x04" + bytes(range(256)) * 200  # 51 KB, as a digest's workbook


async def test_a_file_pushed_to_many_is_stored_once_and_each_gets_it_whole_in_order(app):
    """A broadcast of 60 (a job): one INSERT for the rows, the workbook kept once for all of them."""
    from sqlalchemy import func

    from handlers.context import Outgoing
    from storage.models import OutboxBlob

    ids = await _people(app, 60, "w")
    async with app.sessions() as s, s.begin():
        out = Outgoing(services=app.services, session=s, at=app.clock.now())
        for person_id in ids:
            out.push(person_id, Reply(text="BẢN TIN TỔNG HỢP TUẦN 48/2026"), kind="digest")
            out.push(person_id, Reply(text="", file=("ban-tin.xlsx", WORKBOOK)), kind="digest")
        assert await out.send_queued() == 120
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxBlob)) == 1
        sizes = (await s.scalars(select(func.length(OutboxMessage.payload)))).all()
        assert len(sizes) == 120 and max(sizes) < 2000  # the rows name the blob; none carries the 51 KB
    await app.outbox.drain()
    for i in range(60):
        got = app.fake.chats[f"w{i}"]
        assert [m.text for m in got] == ["BẢN TIN TỔNG HỢP TUẦN 48/2026", ""]
        assert got[1].reply.file == ("ban-tin.xlsx", WORKBOOK)


async def test_a_row_queued_before_blobs_existed_still_brings_its_file(app):
    """The previous release kept the file inside the row, hex-encoded: it is delivered as it was."""
    import json

    await _people(app, 1, "old")
    reply = Reply(text="", file=("so-lieu.csv", b"thon,buoi\nThon 1,2\n"))
    async with app.sessions() as s, s.begin():
        s.add(OutboxMessage(person_id=None, channel="fake", account="test", chat_id="old0", kind="reply",
                            payload=app.services.keyring.encrypt(json.dumps(reply.to_dict()).encode()),
                            created_at=app.clock.now(), due_at=app.clock.now(), attempts=0))
    await app.outbox.drain()
    assert app.fake.chats["old0"][0].reply.file == ("so-lieu.csv", b"thon,buoi\nThon 1,2\n")


async def test_a_row_whose_file_is_gone_fails_for_good_and_holds_nothing_up(app):
    from sqlalchemy import delete

    from storage import outbox as outbox_store
    from storage.models import OutboxBlob

    async with app.sessions() as s, s.begin():
        for text, file in (("", ("ban-tin.xlsx", WORKBOOK)), ("Tin sau", None)):
            outbox_store.queue_to_chat(s, app.services.keyring, channel="fake", account="test", chat_id="g1",
                                       person_id=None, reply=Reply(text=text, file=file), now=app.clock.now())
    async with app.sessions() as s, s.begin():
        await s.execute(delete(OutboxBlob))  # expired (storage/retention.py) before it could go
    await app.outbox.drain()
    async with app.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "g1")
                                .order_by(OutboxMessage.id))).all()
    assert rows[0].failed_at is not None and rows[0].last_error == "its file is no longer stored"
    assert [m.text for m in app.fake.chats["g1"]] == ["Tin sau"]  # the chat's next message went out


async def test_a_reply_kept_from_queueing_is_what_its_stored_payload_reads_as(app):
    """The process that queued a row sends the reply it kept (storage/outbox.py stored_of) instead
    of decrypting the payload: the two must be the same, buttons, markup and tag included, or a
    restart (which reads the payload) would send something else. A reply with a file keeps nothing."""
    from storage.outbox import claim_on_queue, decode_stored, queue_to_chat, stored_of, take_queued

    reply = Reply(text="<b>Câu 2/9</b> Thôn nào?", html=True, tag="q",
                  choices=(Choice("Thôn 1", "f:v:1"), Choice("Bỏ qua", "f:skip", control=True, keyword="bo qua")),
                  columns=2, edit=False)
    with_file = Reply(text="Bảng", file=("bang.xlsx", b"PK\x03\x04"))
    async with app.sessions() as s:
        claim_on_queue(s)  # as a step's session: its rows are handed to this process's outbox
        async with s.begin():
            for r in (reply, with_file):
                queue_to_chat(s, app.services.keyring, channel="fake", account="", chat_id="1", person_id=None,
                              reply=r, now=app.clock.now())
        kept, filed = take_queued(s)
    assert kept.plain is not None and filed.plain is None
    assert stored_of(app.services.keyring, kept) == decode_stored(app.services.keyring, kept.payload)
    assert stored_of(app.services.keyring, kept).reply == reply


async def test_a_steps_rows_get_their_ids_in_order_at_commit_and_none_survive_a_rollback(app):
    """A step's rows are written with one INSERT at its commit: they come back with their ids in
    the order queued. Rolled back, none of them exists, so none may be handed to the outbox."""
    from storage.outbox import claim_on_queue, queue_to_chat, take_queued

    def queue(s, *texts):
        for text in texts:
            queue_to_chat(s, app.services.keyring, channel="fake", account="", chat_id="9", person_id=None,
                          reply=Reply(text=text), now=app.clock.now())

    async with app.sessions() as s:
        claim_on_queue(s)
        async with s.begin():
            queue(s, "một", "hai")
        rows = take_queued(s)
    assert [r.id for r in rows] == sorted(r.id for r in rows) and None not in [r.id for r in rows]
    async with app.sessions() as s:
        stored = (await s.scalars(select(OutboxMessage.id).where(OutboxMessage.chat_id == "9"))).all()
    assert list(stored) == [r.id for r in rows]

    async with app.sessions() as s:
        claim_on_queue(s)
        try:
            async with s.begin():
                queue(s, "ba")
                raise RuntimeError("the step failed")
        except RuntimeError:
            pass
        assert take_queued(s) == []
    async with app.sessions() as s:
        assert len((await s.scalars(select(OutboxMessage.id).where(OutboxMessage.chat_id == "9"))).all()) == 2
