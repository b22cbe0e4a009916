"""Safety: acknowledged and escalated alerts, nobody reached, withdrawal, the audit log, floods,
chat hygiene, retention and key rotation."""

import glob
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.app import App
from core.events import Delivery
from handlers.safety import check_reached, escalate
from storage import rotation
from storage.crypto import Keyring, KeyringError
from storage.models import Alert, AuditEntry, Case, CaseCode, CaseText, Identity, Person
from tests.fakechannel import FakeChannel, User, declare
from tests.helpers import enrolled, enrolled_plain, vi
from tests.test_case_form import DESCRIPTION, answer_case, officers


async def urgent_case(app) -> User:
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("Yes"))
    return head


async def test_the_first_to_acknowledge_takes_the_case_and_everyone_is_told(app):
    police, leader, office = await officers(app)
    head = await urgent_case(app)
    assert vi("Acknowledge (Đã tiếp nhận)") in police.last.labels
    taken = await police.press(vi("Acknowledge (Đã tiếp nhận)"))
    assert taken == [vi("You have acknowledged case {ref}. The others have been told.", ref="HS-2026-0001")]
    told = vi("Case {ref} has been acknowledged by {name} ({role}).", ref="HS-2026-0001", name="Trần Công An",
              role=vi("commune police"))
    assert leader.last.text == told and office.last.text == told
    assert vi("An officer has taken up case {ref}.", ref="HS-2026-0001") in [m.text for m in head.messages]
    late = await leader.say("nhan hs-2026-0001")  # typed, without the slash, in lower case
    assert late == [vi("Case {ref} was already acknowledged by {name}.", ref="HS-2026-0001", name="Trần Công An")]
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.ack_at and case.next_escalation_at is None
        acked = (await s.scalars(select(Alert).where(Alert.acknowledged_by.is_not(None)))).all()
        assert {a.recipient_id for a in acked} == {case.ack_by}


async def test_a_stranger_or_a_reporter_cannot_acknowledge(app):
    await officers(app)
    head = await urgent_case(app)
    await head.press(vi("Skip"))
    refused = await head.say("/nhan HS-2026-0001")
    assert refused == [vi("This command is not available for your role.")]
    forged = await head.press_data("a:1")  # the button has the rights of /nhan
    assert forged == [vi("This command is not available for your role.")]


async def test_an_unacknowledged_alert_is_sent_again_and_escalated_even_after_a_restart(app, config, clock, keyring,
                                                                                       db_url):
    police, leader, office = await officers(app)
    admin = await enrolled(app, "admin", roles=("admin",), villages=(), org=None, name="Quản Trị")
    await urgent_case(app)
    before = len(admin.messages)
    clock.advance(minutes=9)
    assert await escalate(app.services, app.sessions, clock.now()) == 0
    # the bot restarts while the alert waits
    await app.engine.dispose()
    again = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    again.fake = FakeChannel()
    again.add_channel(again.fake)
    await again.prepare()
    clock.advance(minutes=2)
    assert await escalate(again.services, again.sessions, clock.now()) == 1
    await again.outbox.drain()
    reminder = vi("Reminder: nobody has acknowledged this alert yet.")
    for officer in (police, leader, office, admin):
        msgs = again.fake.chats[officer.user_id]
        assert msgs[-1].text.startswith(reminder)
        assert vi("🔴 URGENT — case {ref}", ref="HS-2026-0001") in msgs[-1].text
    assert before == len(admin.messages)  # the old channel saw nothing new: it is the new process that sends
    clock.advance(minutes=11)
    assert await escalate(again.services, again.sessions, clock.now()) == 1
    await again.engine.dispose()


async def test_when_nobody_can_be_reached_the_reporter_is_told_to_call_113(app, clock):
    await officers(app)
    admin = await enrolled(app, "admin", roles=("admin",), villages=(), org=None, name="Quản Trị")
    async with app.sessions() as s, s.begin():  # the officers' only channel is gone
        ids = (await s.scalars(select(Person.id).where(Person.name.in_(["Trần Công An", "Lê Chủ Tịch", "Phạm Văn Hóa"])))).all()
        await s.execute(delete(Identity).where(Identity.person_id.in_(ids)))
    head = await urgent_case(app)
    clock.advance(seconds=61)
    assert await check_reached(app.services, app.sessions, clock.now()) == 1
    await app.outbox.drain()
    assert head.last.text == vi("We could not reach any officer yet about case {ref}. If someone is in danger, call "
                                "113 now.", ref="HS-2026-0001")
    assert "HS-2026-0001" in admin.last.text
    assert await check_reached(app.services, app.sessions, clock.now()) == 0  # once


async def test_an_alert_that_reached_someone_raises_no_alarm(app, clock):
    await officers(app)
    head = await urgent_case(app)
    clock.advance(seconds=61)
    assert await check_reached(app.services, app.sessions, clock.now()) == 0
    assert "113" not in head.last.text


async def test_a_withdrawal_is_a_request_to_the_office_and_erases_nothing(app):
    _, _, office = await officers(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head)
    replies = await head.say("/rutlai HS-2026-0001")
    assert replies[0].startswith(vi("Your request to withdraw case {ref} has been sent to the culture-society office. "
                                    "The case is not erased and alerts already sent are not taken back.",
                                    ref="HS-2026-0001")[:30])
    assert "HS-2026-0001" in office.last.text
    assert await head.say("/rutlai HS-2026-0099") == [vi("No case of yours has the reference {ref}.", ref="HS-2026-0099")]
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.withdrawal_requested_at and (await s.scalars(select(CaseText))).all()


async def test_the_office_reads_a_cases_audit_log_and_nobody_else(app):
    police, leader, office = await officers(app)
    head = await urgent_case(app)
    await police.press(vi("Acknowledge (Đã tiếp nhận)"))
    log = await office.say("/nhatky HS-2026-0001")
    assert "Trần Công An · acknowledge · fake" in log[0]
    assert await leader.say("/nhatky HS-2026-0001") == [vi("This command is not available for your role.")]
    assert await head.say("/nhatky HS-2026-0001") == [vi("This command is not available for your role.")]
    async with app.sessions() as s:
        actions = (await s.scalars(select(AuditEntry.action))).all()
    assert "read_audit_log" in actions


async def test_a_flood_is_throttled_with_one_polite_message(app, clock):
    head = await enrolled(app)
    per_message = []
    for n in range(60):  # 60 messages in half a minute
        per_message.append(await head.say(f"spam {n}"))
        clock.advance(seconds=-1.5)
    slow = vi("You are sending messages very fast. Please wait a minute, then continue.")
    flooded = [r for replies in per_message for r in replies if r == slow]
    assert flooded == [slow]
    assert all(replies == [] for replies in per_message[-10:])
    clock.advance(minutes=2)
    assert await head.say("/trogiup")  # after a minute of calm, answered again


async def test_a_confirmed_case_form_is_wiped_from_the_chat(app, monkeypatch):
    declare(app, app.fake, delete=True)
    await officers(app)
    head = await enrolled(app)
    menu_before = len(head.messages)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head)
    texts = [m.text for m in head.messages]
    assert len(head.messages) == menu_before + 2  # the neutral line and the menu
    assert texts[-2] == vi("Thank you. The case has been recorded as {ref}. The commune will follow it up; you can add "
                           "information later with /cuatoi.", ref="HS-2026-0001")
    assert not any(DESCRIPTION in t for t in texts)
    deleted = app.fake.deleted[head.user_id]
    assert any(d.startswith("m-") for d in deleted)  # the person's own answers too


async def test_a_cancelled_or_expired_case_form_is_wiped_too(app, clock, monkeypatch):
    declare(app, app.fake, delete=True)
    head = await enrolled(app)
    start = len(head.messages)
    await head.say("/baotin")
    await head.press(vi("No"))
    await head.say("/huy")
    assert [m.text for m in head.messages[start:]][0] == vi("The draft has been cancelled. Nothing was saved.")
    await head.say("/baotin")
    await head.press(vi("No"))
    kept = len(app.fake.deleted[head.user_id])
    clock.advance(hours=25)
    await app.scheduler.run_due()
    await app.outbox.drain()
    assert len(app.fake.deleted[head.user_id]) > kept


async def test_a_channel_that_cannot_delete_says_so_before_the_case_form(app):
    head = await enrolled_plain(app)
    replies = await head.say("/baotin")
    assert replies[0] == vi("Note: on this channel the bot cannot delete messages. After sending, please delete this "
                            "conversation from your phone yourself.")


async def test_case_text_is_erased_years_after_closing_and_the_counts_stay(app, clock):
    from storage.retention import due_for_purge, purge

    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head)
    async with app.sessions() as s, s.begin():
        case = await s.scalar(select(Case))
        case.status, case.closed_at = "closed", clock.now()
    async with app.sessions() as s, s.begin():
        assert await due_for_purge(s, clock.now() + timedelta(days=365 * 4), 5) == []
        assert await purge(s, clock.now() + timedelta(days=365 * 5 + 2), 5) == ["HS-2026-0001"]
    async with app.sessions() as s:
        assert (await s.scalars(select(CaseText))).all() == []
        assert (await s.scalars(select(CaseCode))).all()  # coded answers remain countable


async def test_the_inbox_keeps_a_week_of_handled_events_and_every_waiting_one(app, clock):
    from core.events import Incoming
    from storage.models import InboxEvent

    head = await enrolled(app)  # two events, handled now
    clock.advance(days=2)
    await head.say("/trogiup")  # handled two days later
    waiting = Incoming(channel="fake", account="test", user_id=head.user_id, chat_id=head.user_id,
                       dedup_key="late-1", kind="text", text="/trogiup", message_id="m-late-1")
    assert await app.inbox.put(waiting)  # stored, not handled yet
    clock.advance(days=6)  # the first two are 8 days old, the third 6, the waiting one 6

    await app.scheduler.run_job("retention")

    async with app.sessions() as s:
        left = (await s.execute(select(InboxEvent.dedup_key, InboxEvent.processed_at).order_by(InboxEvent.id))).all()
    assert len(left) == 2
    assert left[1] == ("late-1", None)
    assert left[0].processed_at is not None
    assert not await app.inbox.put(waiting)  # a redelivery of a kept event is still refused
    answered = await head.say("/trogiup")
    assert answered and len([m for m in head.messages if m.text == answered[0]]) == 3  # the waiting one answered too


async def test_the_flood_count_reads_one_minute_of_a_chat_not_its_history(app):
    """The step's read counts the last minute's events of the chat through the (conv_key,
    received_at) index: what a person sent over the years is not walked at every message."""
    from sqlalchemy import text as sql_text

    from storage.step_read import _STATEMENT

    async with app.sessions() as s:
        compiled = _STATEMENT.compile(dialect=s.bind.dialect)
        sql = str(compiled).replace("__[POSTCOMPILE_aggregate_strings_2]", "','").replace(
            "__[POSTCOMPILE_aggregate_strings_4]", "','")
        plan = (await s.execute(sql_text("EXPLAIN QUERY PLAN " + sql.replace("?", "NULL")))).all()
    details = [row[-1] for row in plan]
    assert any("ix_inbox_conv_received (conv_key=? AND received_at>?)" in d for d in details), details


def _db_bytes(db_url: str) -> bytes:
    path = db_url.split(":///", 1)[1]
    return b"".join(Path(p).read_bytes() for p in glob.glob(path + "*"))


async def test_rotating_the_key_loses_nothing_and_retires_the_old_key(config, clock, tmp_path, db_url):
    key_file = tmp_path / "secret.key"
    ring = Keyring({"BOT_SECRET_KEY_FILE": str(key_file)})
    old_key = key_file.read_text().strip()
    app = App(config, clock=clock, keyring=ring, storage_url=db_url)
    app.fake = FakeChannel()
    app.add_channel(app.fake)
    await app.prepare()
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head)
    await head.say("/baotin")  # an open draft too
    assert DESCRIPTION.encode() not in _db_bytes(db_url)
    rotation.add_new_key(ring)
    assert await rotation.reencrypt(app.sessions, ring) > 0
    assert await rotation.retire_old_keys(app.sessions, ring)
    assert key_file.read_text().split() != [old_key] and old_key not in key_file.read_text()
    assert DESCRIPTION.encode() not in _db_bytes(db_url)
    async with app.sessions() as s:
        texts = (await s.scalars(select(CaseText))).all()
        assert ring.decrypt_text(texts[0].ciphertext) == DESCRIPTION
    old_only = Keyring({"BOT_SECRET_KEY": old_key})
    with pytest.raises(KeyringError):
        old_only.decrypt_text(texts[0].ciphertext)
    replies = await head.say("/huy")  # the re-encrypted draft still opens
    assert replies[0] == vi("The draft has been cancelled. Nothing was saved.")
    await app.engine.dispose()


async def test_the_logs_of_a_whole_case_hold_no_case_text_and_no_phone(app, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    police, _, _ = await officers(app)
    head = await urgent_case(app)
    await head.say("0987 654 321")
    await answer_case(head)
    app.fake.fail_next = [Delivery(ok=False, permanent=True, error="Forbidden: bot was blocked by the user")]
    await police.press(vi("Acknowledge (Đã tiếp nhận)"))  # its answer fails: a warning is logged
    await head.say("/cuatoi")
    await head.press(vi("Add information to {ref}", ref="HS-2026-0001"))
    await head.say(DESCRIPTION)
    await head.press(vi("Confirm"))
    assert "failed for good" in caplog.text  # the log was captured
    for secret in (DESCRIPTION, "0987654321", "987654321", "0987 654 321"):
        assert secret not in caplog.text


async def test_role_changes_are_in_the_audit_log(app):
    admin = await enrolled(app, "adm", roles=("admin",), villages=(), org=None, name="Admin")
    await admin.say("/moi")
    await admin.press(vi("commune police"))
    async with app.sessions() as s:
        actions = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions == ["roles_granted", "invite_created"]
