"""The office's commands, by every role; case follow-up; reminders; people and notices."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from handlers.office import delivery, reminders
from handlers.registry import COMMANDS
from storage.models import AuditEntry, Case, CaseCode, CaseStatusChange, CaseText, Draft, Report
from tests.fakechannel import User
from tests.helpers import vi
from tests.test_digest import local, person, seed

ROLES = ("reporter", "office", "police", "leader", "admin", "province")
FIGURES = {"office", "leader", "province"}
ALLOWED = {
    "tuan": FIGURES, "thang": FIGURES, "thon": FIGURES, "chuabaocao": FIGURES, "xuat": FIGURES, "bantin": FIGURES,
    "vuviec": {"office", "police", "leader"}, "capnhat": {"office", "police"},
    "nguoidung": {"admin", "office"}, "thuhoi": {"admin"}, "thongbao": {"office", "admin"},
    "nhacnho": {"office", "admin"},
}
REFUSAL = vi("This command is not available for your role.")


@pytest.mark.parametrize("command", sorted(ALLOWED))
async def test_every_role_gets_an_answer_or_a_polite_refusal(app, command):
    assert COMMANDS[command].roles == frozenset(ALLOWED[command])
    for role in ROLES:
        await person(app, role, [role], commune=None if role == "province" else "xuanduong",
                     villages=["t03"] if role == "reporter" else ())
    for role in ROLES:
        replies = await User(app, role).say(f"/{command}")
        if role in ALLOWED[command]:
            assert replies and replies[0] != REFUSAL, (command, role)
        else:
            assert replies == [REFUSAL], (command, role)


async def test_the_office_follows_a_case_up_and_the_reporter_is_told_without_names(app, clock):
    await seed(app)
    await person(app, "office", ["office"], name="Phạm Văn Hóa")
    await person(app, "police", ["police"])
    clock.set(local(2027, 1, 4, 8))
    office, police, head = User(app, "office"), User(app, "police"), User(app, "head")
    (listing,) = await office.say("/vuviec")
    assert "HS-2026-0001 · Thôn 1 · " + vi("Domestic violence") + " · " + vi("Being verified") in listing
    assert "HS-2025-0009" not in listing  # closed
    (routed,) = await police.say("/vuviec")
    assert "HS-2026-0001" in routed and "HS-2027-0001" not in routed  # police: only the cases routed to them
    assert (await police.say("/vuviec HS-2027-0001")) == [vi("There is no case {ref} that you can open.",
                                                             ref="HS-2027-0001")]
    full = await office.press("HS-2026-0001")
    assert vi("Status: {status} · last update {days} days ago", status=vi("Being verified"), days="5") in full[0]
    await office.say("/capnhat HS-2026-0001")
    assert office.last.labels == [vi("Confirmed as domestic violence"), vi("Not domestic violence"),
                                  vi("Update support and counselling"), vi("Same household as another case")]
    await office.press(vi("Confirmed as domestic violence"))
    await office.say("Đã xác minh tại nhà, hai bên có mặt")
    done = await office.press(vi("Confirm"))
    assert done[0] == vi("Case {ref} is now: {status}.", ref="HS-2026-0001", status=vi("Confirmed as domestic violence"))
    told = head.last.text
    assert told == vi("The status of case {ref} that you reported is now: {status}.", ref="HS-2026-0001",
                      status=vi("Confirmed as domestic violence"))
    assert "Phạm" not in told
    async with app.sessions() as s:
        case = await s.scalar(select(Case).where(Case.ref == "HS-2026-0001"))
        assert case.status == "confirmed_dv"
        note = await s.scalar(select(CaseText).where(CaseText.kind == "status_note"))
        assert "xác minh".encode() not in note.ciphertext
        actions = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions[-2:] == ["read_full", "status"] or "status" in actions
    async with app.sessions() as s:  # the status history says when (issue 12)
        history = (await s.execute(select(CaseStatusChange.status, CaseStatusChange.at)
                                   .where(CaseStatusChange.case_id == case.id))).all()
    assert history == [("confirmed_dv", clock.now())]
    # Opened again: changed today, and with its note printed the heading does not say "no description".
    (again,) = await office.say("/vuviec HS-2026-0001")
    assert vi("Status: {status} · last updated today", status=vi("Confirmed as domestic violence")) in again
    assert again.startswith(vi("🔴 URGENT — case {ref}", ref="HS-2026-0001") + "\n")  # an urgent case
    assert vi("details from the lists, no description") not in again and "Đã xác minh tại nhà" in again

    # The household and the support, after the report: both feed the figures.
    (linked,) = await office.say("/capnhat HS-2026-0001 cung ho voi HS-2026-0003")
    assert linked == vi("Case {ref} is marked as of the same household as {other}; the figures count them as one "
                        "household.", ref="HS-2026-0001", other="HS-2026-0003")
    await office.say("/capnhat HS-2026-0001")
    await office.press(vi("Update support and counselling"))
    await office.press(vi("Legal aid"))
    await office.press(vi("Done"))
    await office.press(vi("Yes"))
    updated = await office.press(vi("Confirm"))
    assert updated[0] == vi("Case {ref}: support and counselling are updated; the figures count them from now on.",
                         ref="HS-2026-0001")
    async with app.sessions() as s:
        case = await s.scalar(select(Case).where(Case.ref == "HS-2026-0001"))
        other = await s.scalar(select(Case).where(Case.ref == "HS-2026-0003"))
        support = (await s.scalars(select(CaseCode.code).where(CaseCode.case_id == case.id,
                                                               CaseCode.field == "support"))).all()
        assert (case.household_case_id, case.perpetrator_counselled) == (other.id, "yes")
        assert support == ["legal"]  # what has been received so far, chosen afresh


async def test_a_revoked_person_is_a_stranger_and_loses_their_draft(app):
    await person(app, "admin", ["admin"])
    target = await person(app, "head", ["reporter"], villages=["t03"], name="Hoàng Văn Ba")
    head, admin = User(app, "head"), User(app, "admin")
    await head.say("/baocao")
    await admin.say(f"/thuhoi {target}")
    await admin.press(vi("Revoke"))
    assert admin.last.text == vi("The access of #{id} {name} has been revoked.", id=target, name="Hoàng Văn Ba")
    async with app.sessions() as s:
        assert (await s.scalars(select(Draft))).all() == []
    replies = await head.say("/baocao")
    assert replies[0].startswith(vi("Hello! This bot is for village heads and officers of the commune who have been "
                                    "invited. To use it, ask the culture-society office (Phòng Văn hóa - Xã hội) or "
                                    "the administrator for an invite code, then send: /start CODE")[:40])


async def test_reporters_without_a_report_this_week_are_nudged_once_on_friday(app, clock):
    lazy = await person(app, "lazy", ["reporter"], villages=["t03"])
    busy = await person(app, "busy", ["reporter"], villages=["t01"])
    async with app.sessions() as s, s.begin():
        s.add(Report(ref="BC-2026-0001", commune_id="xuanduong", village_id="t01", person_id=busy,
                     held_on=date(2026, 11, 24), format="meeting", attendees_total=10, created_at=clock.now()))
    services, sessions = app.services, app.sessions
    assert await reminders.send_reminders(services, sessions, local(2026, 11, 27, 15, 59)) == 0
    assert await reminders.send_reminders(services, sessions, local(2026, 11, 27, 16, 0)) == 1
    assert await reminders.send_reminders(services, sessions, local(2026, 11, 27, 18, 0)) == 0
    clock.set(local(2026, 11, 27, 18, 0))
    await app.outbox.drain()
    nudge = User(app, "lazy").last
    assert "Thôn 3" in nudge.text and nudge.reply.choices[0].data == "m:baocao"
    assert not app.fake.chats.get("busy")
    await person(app, "office", ["office"])
    assert (await User(app, "office").say("/nhacnho"))[0] == vi(
        "Reminders are off. Send /nhacnho again to switch them on.")
    assert await reminders.send_reminders(services, sessions, local(2026, 12, 4, 16, 30)) == 0
    assert lazy


async def test_villages_not_reported_for_this_week_last_week_or_a_week_typed(app, clock):
    await seed(app)  # week 53/2026: Thôn 1, 2 and 3 reported; week 51: Thôn 4
    await person(app, "office", ["office"])
    office = User(app, "office")
    clock.set(local(2027, 1, 4, 8))  # Monday of week 1/2027: nothing reported yet
    (now,) = await office.say("/chuabaocao")
    assert now.startswith(vi("Week {week} ({span}):", week="01/2027", span="04/01 – 10/01/2027"))
    assert "0/22" in now
    (last,) = await office.say("chuabaocao truoc")
    assert last.startswith(vi("Week {week} ({span}):", week="53/2026", span="28/12/2026 – 03/01/2027"))
    assert "3/22" in last and "Thôn 1," not in last and "Thôn 4" in last
    (typed,) = await office.say("/chuabaocao 2026-W51")
    assert typed.startswith(vi("Week {week} ({span}):", week="51/2026", span="14/12 – 20/12/2026"))
    assert "1/22" in typed and "Thôn 4" not in typed and "Thôn 1," in typed
    (month,) = await office.say("/chuabaocao 12/2026")
    # December: Thôn 1 (28/12), 3 (30/12) and 4 (15/12); Thôn 2's reports are of 03/01/2027.
    assert month.startswith("01/12 – 31/12/2026:") and "3/22" in month and "Thôn 2," in month
    (wrong,) = await office.say("/chuabaocao hôm kia nữa")
    assert wrong.startswith(vi("I could not read “{text}” as a period.", text="hôm kia nữa"))


async def test_a_notice_reaches_one_villages_reporters(app):
    await person(app, "office", ["office"])
    await person(app, "r3", ["reporter"], villages=["t03"])
    await person(app, "r1", ["reporter"], villages=["t01"])
    office = User(app, "office")
    await office.say("/thongbao")
    await office.press("Thôn 3")
    await office.say("Họp thôn tối thứ Sáu về phòng, chống bạo lực gia đình")
    assert (await office.press(vi("Confirm")))[0] == vi("The notice has been sent to {n} people.", n=1)
    assert User(app, "r3").last.text.endswith("Họp thôn tối thứ Sáu về phòng, chống bạo lực gia đình")
    assert not app.fake.chats.get("r1")


async def test_province_sees_communes_side_by_side_and_villages_typed_without_marks(app, clock):
    await seed(app)
    await person(app, "province", ["province"], commune=None)
    await person(app, "leader", ["leader"])
    clock.set(local(2027, 1, 4, 8))
    (side,) = await User(app, "province").say("/tuan 2026-W53")
    assert vi("all communes") in side and "UBND xã Xuân Dương: 3/22" in side and "HS-" not in side
    (village,) = await User(app, "leader").say("/thon thon 5")
    # The village of the commune as a place, not of its People's Committee; no case figure per village.
    assert village.startswith("Thôn 5, xã Xuân Dương") and "2027" in village and "UBND" not in village
    assert vi("Figures as of {time} on {date}", time="08:00", date="04/01/2027") in village
    await User(app, "province").say("/bantin")
    async with app.sessions() as s:
        people = await delivery.digest_recipients(s, "xuanduong")
    assert len(people) == 2  # the leader by role, the province officer by subscription
