"""End to end on Telegram (the real App and TelegramChannel against the emulator, as in
tests/test_case_telegram_e2e.py): the reporter's phone number reaches the officers the moment it
is shared, and a forged button cannot do what its command may not."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from storage.models import AuditEntry, Case, Draft, Identity
from tests.helpers import vi
from tests.telegram_harness import (  # noqa: F401 - the *_fixture names register fixtures
    SteppingClock,
    emulator_fixture,
    telegram_bot_fixture,
)
from tests.test_case_telegram_e2e import ACK, REF, URGENT, new_since, officers, reporter, start

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

REFUSAL = vi("This command is not available for your role.")


async def test_the_phone_number_shared_after_the_alert_reaches_every_officer_at_once(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)  # enrolled without a phone number
    await ba.say("/baotin")
    mark = bot.emu.mark()
    await ba.press(vi("Yes"))
    alerts = {}
    for role, [alert] in new_since(bot, team, mark).items():
        assert alert.text.startswith(URGENT)
        assert "Người báo tin: Hoàng Văn Ba, chưa có số điện thoại" in alert.text, (role, alert.text)
        alerts[role] = alert

    # The reporter presses "share my phone number" at the phone question (a Telegram contact).
    mark = bot.emu.mark()
    calls = len(bot.emu.calls)
    [village_q] = (await ba.share_contact("84912345678"))[-1:]
    assert vi("In which village did it happen?") in village_q.text  # the form goes on meanwhile
    for role, [phone] in new_since(bot, team, mark).items():
        assert phone.text == "🔴 HS-2026-0001: số điện thoại của người báo tin: 0912 345 678", role
        assert phone.message_id != alerts[role].message_id and phone.button_texts == [ACK]
    sent = [(name, str(p.get("chat_id"))) for name, p in bot.emu.calls[calls:]
            if name in ("sendMessage", "editMessageText") and str(p.get("chat_id")) != str(ba.id)]
    assert sorted(sent) == sorted(("sendMessage", str(u.id)) for u in team.values())  # new messages, no edit
    for role, alert in alerts.items():  # the first alert stays as it was
        now_shown = next(m for m in team[role].messages if m.message_id == alert.message_id)
        assert now_shown.text == alert.text

    # "Đã tiếp nhận" on the number's message takes the case.
    taken = await team["police"].press_on(team["police"].last.message_id,
                                          team["police"].data_of(team["police"].last, ACK))
    assert vi("You have acknowledged case {ref}. The others have been told.", ref=REF) in [m.text for m in taken]
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.ack_at is not None
    assert await bot.outbox_failures() == []


async def test_a_leader_reads_a_case_but_a_forged_status_button_is_refused(telegram_bot, caplog):
    caplog.set_level(logging.WARNING, logger="handlers.permissions")
    bot = await start(telegram_bot, SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)
    await ba.say("/baotin")
    await ba.press(vi("Yes"))  # an urgent case, consent not asked yet: a leader reads its coded details
    leader = team["leader"]

    [listing] = await leader.say("/vuviec")
    assert REF in listing.text and listing.button_texts == [REF]
    [shown] = await leader.press(REF)
    assert shown.text.startswith(URGENT + " · " + vi("details from the lists, no description"))
    assert shown.button_texts == []  # no "Cập nhật trạng thái" for a leader
    async with bot.app.sessions() as s:
        case = await s.scalar(select(Case))
        audit_before = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert audit_before[-1] == "read_coded"

    # A client that sends callback data the leader was never shown: the change-status buttons.
    for data in (f"o:n:{case.id}", f"o:s:{case.id}:verifying"):
        replies = await leader.raw(leader.forged_press(shown, data, query_id=f"4242{len(data)}"))
        assert [m.text for m in replies] == [REFUSAL], data
    assert [m.text for m in await leader.say(f"/capnhat {REF}")] == [REFUSAL]
    async with bot.app.sessions() as s:
        assert (await s.get(Case, case.id)).status == "new"
        assert (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all() == audit_before
        assert (await s.scalars(select(Draft).where(Draft.form == "case_status"))).all() == []
    refused = [r.getMessage() for r in caplog.records if r.name == "handlers.permissions"]
    [identity] = await bot.rows(Identity, Identity.external_id == str(leader.id))
    leader_id = identity.person_id
    assert refused[:2] == [f"refused button o:n to person {leader_id} (roles: leader)",
                           f"refused button o:s to person {leader_id} (roles: leader)"]
    assert REF not in caplog.text

    # The office, pressing the same, changes the status.
    office = team["office"]
    await office.say("/vuviec")
    [full] = await office.press(REF)
    assert vi("Change the status") in full.button_texts
    [offer] = await office.press(vi("Change the status"))
    assert offer.button_texts == [vi("Being verified"), vi("Update support and counselling"),
                                  vi("Same household as another case")]
