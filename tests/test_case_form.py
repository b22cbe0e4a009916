"""A suspected case: the urgent path, routing, coded storage, and free text that is never in clear."""

import glob
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from handlers.alerts import send_due_details
from storage.crypto import Keyring, KeyringError
from storage.models import Alert, AuditEntry, Case, CaseCode, CasePerson, CaseText
from tests.fakechannel import User
from tests.helpers import enrolled, make_invite, vi

DESCRIPTION = "Chồng say rượu đánh vợ ở nhà sau bếp, hàng xóm nghe tiếng kêu cứu"


async def officers(app):
    police = await enrolled(app, "police", roles=("police",), villages=(), org=None, name="Trần Công An")
    leader = await enrolled(app, "leader", roles=("leader",), villages=(), org=None, name="Lê Chủ Tịch")
    office = await enrolled(app, "office", roles=("office",), villages=(), org=None, name="Phạm Văn Hóa")
    return police, leader, office


async def answer_case(u: User, *, kind="Domestic violence", forms=("Physical",), people=(("Female", "35"),),
                      consent="Agrees", description=DESCRIPTION, confirm=True) -> list[str]:
    await u.press("Thôn 3")
    await u.press(vi("Yesterday"))
    await u.press(vi("A relative or neighbour told me"))
    await u.press(vi(kind))
    for f in forms:
        await u.press(vi(f))
    await u.press(vi("Done"))
    await u.say(str(len(people)))
    for sex, age in people:
        await u.press(vi(sex))
        await u.say(age)  # an age in years: only its group is stored
        await u.press(vi("Neither"))
        await u.press(vi("Done"))
    await u.press(vi("Male"))
    await u.say("40")
    await u.press(vi("Wife / husband"))
    await u.press(vi("First time"))
    # The form asks in the words of the kind chosen, and only what applies to it (issue 12).
    if kind == "Domestic violence":
        await u.press(vi("Unknown"))  # fined before for domestic violence
    if kind != "Suspected human trafficking":
        await u.press(vi("Ordered to stop the violence"))
        await u.press(vi("Done"))
    else:
        await u.press(vi("Yes"))  # the victim needs support
    await u.press(vi("Medical care"))
    await u.press(vi("Done"))
    if kind != "Suspected human trafficking":
        await u.press(vi("No"))  # counselled
    await u.press(vi("Commune police"))
    await u.press(vi("Done"))
    await u.press(vi(consent))
    described = await u.say(description)
    return await u.press(vi("Confirm")) if confirm else described


async def test_an_urgent_case_alerts_the_police_before_the_second_question(app):
    police, leader, office = await officers(app)
    head = await enrolled(app)  # skipped the phone at enrolment
    first = await head.say("/baotin")
    assert vi("Is anyone's life or health in immediate danger right now?") in first[-1]
    replies = await head.press(vi("Yes"))
    assert replies[0].startswith(vi("URGENT case {ref} has been created. The commune police and leaders are being alerted now.", ref="HS-2026-0001"))
    assert vi("• 111 (if a child is involved)") in replies[0] and "0208 3000 113" in replies[0]
    assert vi("What phone number can the police call you back on?") in replies[-1]
    for officer in (police, leader, office):
        alert = officer.last.text
        assert alert.startswith(vi("🔴 URGENT — case {ref}", ref="HS-2026-0001"))
        assert vi("Reported by: {name}, no phone number yet", name="Hoàng Văn Ba") in alert
        assert vi("Village(s): {villages} (from the reporter's profile)", villages="Thôn 3") in alert
    await head.say("0987 654 321")
    done = await answer_case(head, people=(("Female", "35"), ("Female", "3 tuổi"), ("Male", "khoảng 70")))
    assert done[0].startswith(vi("Thank you. The case has been recorded as {ref}. The commune will follow it up; you "
                                 "can add information later with /cuatoi.", ref="HS-2026-0001"))
    assert "113" in done[0]  # the numbers to call stay in the chat after the form is wiped
    details = police.last.text
    assert vi("details from the lists, no description") in details and vi("Physical") in details and "0987654321" not in DESCRIPTION
    assert DESCRIPTION not in details and DESCRIPTION not in leader.last.text
    assert vi("Reported by: {name}, phone number {phone}", name="Hoàng Văn Ba", phone="0987 654 321") in details
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case.urgent and case.ref == "HS-2026-0001" and case.confirmed_at and case.police_routed
        people = (await s.scalars(select(CasePerson).order_by(CasePerson.position))).all()
        assert [(p.sex, p.age_group) for p in people] == [("female", "16_59"), ("female", "u16"), ("male", "60p")]
        forms = (await s.scalars(select(CaseCode.code).where(CaseCode.field == "forms"))).all()
        assert forms == ["physical"]
        kinds = (await s.execute(select(Alert.kind, func.count()).group_by(Alert.kind))).all()
        assert dict(kinds) == {"urgent": 3, "details": 3}


async def test_the_phone_number_reaches_everyone_alerted_as_soon_as_it_is_typed(app):
    police, leader, office = await officers(app)
    head = await enrolled(app)  # skipped the phone at enrolment
    await head.say("/baotin")
    await head.press(vi("Yes"))
    for officer in (police, leader, office):
        assert vi("Reported by: {name}, no phone number yet", name="Hoàng Văn Ba") in officer.last.text
        assert "điện thoại chưa có" not in officer.last.text  # the wording the issue found
    alerts_before = {o.user_id: len(o.messages) for o in (police, leader, office)}
    await head.say("0912 345 678")  # the next question comes; the number has already gone out
    for officer in (police, leader, office):
        new = officer.messages[alerts_before[officer.user_id]:]
        assert [m.text for m in new] == [vi("🔴 {ref}: the reporter's phone number: {phone}", ref="HS-2026-0001",
                                            phone="0912 345 678")], officer.user_id
        assert new[0].text == "🔴 HS-2026-0001: số điện thoại của người báo tin: 0912 345 678"
        assert new[0].labels == [vi("Acknowledge (Đã tiếp nhận)")] and not new[0].edits  # a new message
    taken = await police.press(vi("Acknowledge (Đã tiếp nhận)"))  # the button on the number works
    assert taken == [vi("You have acknowledged case {ref}. The others have been told.", ref="HS-2026-0001")]
    # Corrected (back to the question): the new number goes out too, now without the button.
    await head.press(vi("Back"))
    await head.say("0987 654 321")
    assert leader.last.text == vi("🔴 {ref}: the reporter's phone number: {phone}", ref="HS-2026-0001",
                                  phone="0987 654 321") and leader.last.labels == []
    async with app.sessions() as s:
        assert dict((await s.execute(select(Alert.kind, func.count()).group_by(Alert.kind))).all()) == {"urgent": 3}


async def test_details_follow_after_fifteen_minutes_when_the_reporter_abandons(app, clock):
    police, leader, office = await officers(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("Yes"))
    await head.press(vi("Skip"))
    await head.press("Thôn 5")
    await head.say("/huy")  # abandoning never cancels the alert
    clock.advance(minutes=14)
    assert await send_due_details(app.services, app.sessions, clock.now()) == 0
    clock.advance(minutes=2)
    assert await send_due_details(app.services, app.sessions, clock.now()) == 1
    await app.outbox.drain()
    for officer in (police, leader, office):
        assert vi("Village: {village} · Date: {date}", village="Thôn 5", date="—") in officer.last.text
    clock.advance(minutes=20)
    assert await send_due_details(app.services, app.sessions, clock.now()) == 0  # sent once


async def test_a_non_urgent_case_reaches_the_office_and_leader_on_confirmation_only(app):
    police, leader, office = await officers(app)
    head = await enrolled(app)
    before = (len(police.messages), len(leader.messages), len(office.messages))
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head, forms=("Psychological",))
    assert len(police.messages) == before[0]  # not routed to the police
    assert len(leader.messages) == before[1] + 1 and len(office.messages) == before[2] + 1
    assert office.last.text.startswith(vi("Case {ref}", ref="HS-2026-0001"))


async def test_trafficking_reaches_the_police_even_without_consent(app):
    police, _, _ = await officers(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head, kind="Suspected human trafficking", forms=("Not yet clear",), consent="Does not agree")
    assert vi("Suspected human trafficking") in police.last.text


async def test_sexual_violence_reaches_the_police(app):
    police, _, _ = await officers(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head, forms=("Sexual",), consent="Could not ask yet")
    assert vi("Sexual") in police.last.text


def _files_contain(db_url: str, needle: str) -> bool:
    path = db_url.split(":///", 1)[1]
    data = b"".join(Path(p).read_bytes() for p in glob.glob(path + "*"))
    return needle.encode() in data


async def test_free_text_is_never_stored_in_clear(app, db_url, caplog):
    await officers(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await head.press("Thôn 3")
    await head.press(vi("Today"))
    await head.press(vi("Other"))
    await head.say("Cô giáo " + DESCRIPTION)  # a "Khác" answer is free text too
    assert not _files_contain(db_url, DESCRIPTION)  # while the draft is open
    await head.say("/huy")
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head)
    assert not _files_contain(db_url, DESCRIPTION)
    await head.say("/cuatoi")
    await head.press(vi("Add information to {ref}", ref="HS-2026-0001"))
    await head.say("Thêm: " + DESCRIPTION)
    done = await head.press(vi("Confirm"))
    assert done[0] == vi("Thank you. Your information has been added to case {ref}.", ref="HS-2026-0001")
    assert not _files_contain(db_url, DESCRIPTION)
    assert DESCRIPTION not in caplog.text
    async with app.sessions() as s:
        texts = (await s.scalars(select(CaseText).order_by(CaseText.id))).all()
        assert [t.kind for t in texts] == ["description", "followup"]
        assert app.services.keyring.decrypt_text(texts[0].ciphertext) == DESCRIPTION


async def test_case_details_are_read_only_through_the_checked_and_audited_function(app):
    from storage.cases import read_case
    from storage.people import load_profile

    police, leader, office = await officers(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head, forms=("Economic",), consent="Does not agree")
    async with app.sessions() as s, s.begin():
        case = await s.scalar(select(Case))
        people = {}
        from storage.models import Identity

        for u in (police, leader, office, head):
            ident = await s.scalar(select(Identity).where(Identity.external_id == u.user_id))
            people[u.user_id] = await load_profile(s, ident.person_id)
        now = app.clock.now()
        office_view = await read_case(s, app.services.keyring, case, people["office"], channel="fake", now=now)
        assert office_view.full and office_view.texts == [("description", DESCRIPTION)]
        leader_view = await read_case(s, app.services.keyring, case, people["leader"], channel="fake", now=now)
        assert not leader_view.full and leader_view.texts == [] and leader_view.codes["forms"] == ["economic"]
        assert await read_case(s, app.services.keyring, case, people["police"], channel="fake", now=now) is None
        assert await read_case(s, app.services.keyring, case, people["u1"], channel="fake", now=now) is None
        case.consent = "agreed"  # with consent, the leader may read the full record
        assert (await read_case(s, app.services.keyring, case, people["leader"], channel="fake", now=now)).full
    async with app.sessions() as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.case_id.is_not(None)).order_by(AuditEntry.id))).all()
    assert actions == ["read_full", "read_coded", "read_refused", "read_refused", "read_full"]


async def test_the_reporter_sees_the_status_of_their_case(app):
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await answer_case(head)
    listing = await head.say("/cuatoi")
    assert vi("{ref}: {status}", ref="HS-2026-0001", status=vi("Newly received")) in listing[0]


def test_a_key_is_required_on_postgresql(tmp_path):
    with pytest.raises(KeyringError, match="no encryption key"):
        Keyring({"BOT_SECRET_KEY_FILE": str(tmp_path / "missing.key")}, allow_generate=False)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/none",
           "TELEGRAM_BOT_TOKEN": "123456:abcdefghijklmnopqrstuvwxyz", "BOT_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=Path(__file__).parent.parent, env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "no encryption key" in result.stderr
    assert "abcdefghijklmnopqrstuvwxyz" not in result.stderr + result.stdout


def test_a_key_file_is_generated_for_sqlite_with_a_warning(tmp_path, caplog):
    ring = Keyring({"BOT_SECRET_KEY_FILE": str(tmp_path / "secret.key")})
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert "Back it up apart from the database" in caplog.text
    assert ring.decrypt_text(ring.encrypt_text("x")) == "x"


def test_a_new_key_in_the_file_is_picked_up_and_old_data_still_decrypts(tmp_path):
    import os

    from cryptography.fernet import Fernet

    path = tmp_path / "secret.key"
    old = Fernet.generate_key().decode()
    path.write_text(old + "\n")
    ring = Keyring({"BOT_SECRET_KEY_FILE": str(path)}, allow_generate=False)
    token = ring.encrypt_text("bí mật")
    new = Fernet.generate_key().decode()
    path.write_text(new + "\n" + old + "\n")
    os.utime(path, (1, 1))  # make sure the change of the file is seen
    assert ring.decrypt_text(token) == "bí mật"
    assert Keyring({"BOT_SECRET_KEY": new}).decrypt_text(ring.encrypt_text("mới")) == "mới"  # sealed with the new key


async def test_every_text_step_of_the_case_form_is_stored_encrypted(app, db_url):
    """The form declares its text steps; storage keeps whatever text it is given, encrypted, with no
    list of its own. The walk answers every text step the form has (and fails if one is added that
    it does not reach)."""
    from handlers.forms.case import CASE
    from handlers.forms.steps import Group, Kind

    declared = {s.key for item in CASE.items for s in (item.steps if isinstance(item, Group) else (item,))
                if s.kind == Kind.TEXT}
    typed = {"source_other": "Nghe qua loa phường bên", "relationship_other": "Cha dượng của cháu",
             "description": DESCRIPTION}
    assert declared == set(typed)
    await officers(app)
    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    await head.press("Thôn 3")
    await head.press(vi("Yesterday"))
    await head.press(vi("Other"))
    await head.say(typed["source_other"])
    await head.press(vi("Domestic violence"))
    await head.press(vi("Physical"))
    await head.press(vi("Done"))
    await head.say("1")
    await head.press(vi("Female"))
    await head.say("35")
    await head.press(vi("Neither"))
    await head.press(vi("Done"))
    await head.press(vi("Male"))
    await head.say("40")
    await head.press(vi("Other"))
    await head.say(typed["relationship_other"])
    for label in ("First time", "Unknown", "Ordered to stop the violence", "Done", "Medical care", "Done", "No",
                  "Commune police", "Done", "Agrees"):
        await head.press(vi(label))
    await head.say(typed["description"])
    await head.press(vi("Confirm"))
    async with app.sessions() as s:
        rows = (await s.scalars(select(CaseText).order_by(CaseText.id))).all()
    assert {r.kind: app.services.keyring.decrypt_text(r.ciphertext) for r in rows} == typed
    await app.engine.dispose()
    for text in typed.values():
        assert not _files_contain(db_url, text)


async def test_a_phone_or_id_number_in_the_description_is_refused_and_asked_again(app):
    """The form asks for no names or numbers; a description holding a phone number (any of the
    ways it is typed) or a 12-digit ID number is refused before it is stored, and typed again."""
    from sqlalchemy import select

    from storage.models import CaseText

    head = await enrolled(app)
    await head.say("/baotin")
    await head.press(vi("No"))
    typed = "Chồng đánh vợ, con nhỏ khóc. Gọi 0912345678"
    refused = await answer_case(head, description=typed, confirm=False)
    expected = vi("Please do not write phone numbers or ID numbers here: they identify people. Type it again without "
                  "them.")
    assert refused[0] == expected and vi("Briefly, what happened? (optional)") in refused[-1]
    for other in ("gọi 0912 345 678 nhé", "sđt +84 912.345.678", "CCCD 001203004567"):
        assert (await head.say(other))[0] == expected, other
    fine = "Chồng đánh vợ lúc 21 giờ ngày 20/11, 2 con nhỏ khóc, thiệt hại 1.500.000 đồng"
    review = await head.say(fine)
    assert expected not in review
    await head.press(vi("Confirm"))
    async with app.sessions() as s:
        texts = [app.services.keyring.decrypt_text(t.ciphertext) for t in (await s.scalars(select(CaseText))).all()]
    assert texts == [fine]


async def _at_the_phone_question(app) -> User:
    await officers(app)
    head = await enrolled(app)  # skipped the phone at enrolment
    await head.say("/baotin")
    replies = await head.press(vi("Yes"))
    assert vi("What phone number can the police call you back on?") in replies[-1]
    assert head.last.reply.ask_contact  # the share-my-phone keyboard is up
    return head


def _taken_down_at(head: User, since: int) -> int:
    """Where among the messages since `since` the keyboard was taken down (exactly once)."""
    downs = [i for i, m in enumerate(head.messages[since:]) if m.reply.remove_keyboard]
    assert len(downs) == 1, [(m.text, m.reply.remove_keyboard) for m in head.messages[since:]]
    return downs[0]


async def test_the_phone_keyboard_is_taken_down_once_the_number_is_given(app):
    """On Telegram the share-my-phone keyboard stays until a message takes it down, and its buttons
    send plain words ("Hủy"): left up, a tap on it later cancelled whatever form was open."""
    head = await _at_the_phone_question(app)
    since = len(head.messages)
    replies = await head.say("0987 654 321")
    at = _taken_down_at(head, since)
    assert replies[at] == vi("Phone number noted: {phone}.", phone="0987 654 321")
    assert vi("In which village did it happen?") in replies[-1] and head.last.labels  # the next question, after it
    assert not head.last.reply.ask_contact


async def test_the_phone_keyboard_is_taken_down_when_the_phone_is_skipped_or_the_form_cancelled(app):
    head = await _at_the_phone_question(app)
    since = len(head.messages)
    replies = await head.say("bỏ qua")  # what the keyboard's Skip button sends
    assert replies[_taken_down_at(head, since)] == vi("No phone number given.")
    assert vi("In which village did it happen?") in replies[-1]
    # Back to the phone question (it is asked again with its keyboard), then cancelled from it.
    await head.say("quay lại")
    assert head.last.reply.ask_contact
    since = len(head.messages)
    replies = await head.say("hủy")
    at = _taken_down_at(head, since)
    assert at == 0 and head.messages[since].reply.choices == ()  # the cancellation itself takes it down


async def test_a_wrong_number_at_the_phone_question_keeps_the_keyboard_up(app):
    head = await _at_the_phone_question(app)
    since = len(head.messages)
    await head.say("5o")
    assert not any(m.reply.remove_keyboard for m in head.messages[since:])
    assert head.last.reply.ask_contact  # asked again, the keyboard with it


async def test_the_plain_channel_gets_no_keyboard_message(app):
    """A channel without the share-my-phone button has no keyboard to take down: no extra message."""
    from tests.fakechannel import PlainUser

    await officers(app)
    code = await make_invite(app)
    head = PlainUser(app, "p-head")
    await head.say(f"/start {code}")
    await head.say("bỏ qua")
    await head.say("/baotin")
    await head.say("1")  # Yes: someone is in danger
    assert vi("What phone number can the police call you back on?") in head.last.text
    since = len(head.messages)
    replies = await head.say("0987 654 321")
    assert not any(r.startswith(vi("Phone number noted: {phone}.", phone="0987 654 321")) for r in replies)
    assert not any(m.reply.remove_keyboard for m in head.messages[since:])


async def test_the_phone_keyboard_goes_when_the_form_is_left_by_a_command_or_at_the_offer(app):
    """/huy at the phone question, and "Hủy bản nháp" at the offer a new /baotin makes there, close
    the form outside its answers: the keyboard goes with it. Left up, a later tap on its "Hủy"
    cancelled the outreach draft the person had gone back to (found by trying it on the emulator)."""
    head = await _at_the_phone_question(app)
    since = len(head.messages)
    await head.say("/huy")
    assert _taken_down_at(head, since) == 0
    await head.say("/baotin")
    await head.press(vi("Yes"))
    assert head.last.reply.ask_contact
    await head.say("/baocao")  # another form asked for at the phone question: the offer to go on
    assert vi("Discard draft") in head.last.labels
    since = len(head.messages)
    await head.press(vi("Discard draft"))
    assert _taken_down_at(head, since) == 0


async def test_going_back_from_the_phone_question_says_the_keyboard_is_hidden(app):
    head = await _at_the_phone_question(app)
    since = len(head.messages)
    replies = await head.say("quay lại")
    assert replies[_taken_down_at(head, since)] == vi("The phone number keyboard is hidden.")


async def test_the_same_number_typed_again_is_noted_again(app):
    head = await _at_the_phone_question(app)
    await head.say("0987 654 321")
    await head.say("quay lại")  # from the village question back to the phone one
    assert head.last.reply.ask_contact
    since = len(head.messages)
    replies = await head.say("0987654321")
    assert replies[_taken_down_at(head, since)] == vi("Phone number noted: {phone}.", phone="0987 654 321")


async def test_the_review_shows_the_phone_as_the_alerts_write_it(app):
    head = await _at_the_phone_question(app)
    await head.say("0987 654 321")
    review = await answer_case(head, confirm=False)
    assert any("0987 654 321" in r for r in review) and not any("+84987654321" in r for r in review), review
