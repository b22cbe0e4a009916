"""Every role × every command, and every button the bot issues × every role without the right:
allowed roles get an answer, the others a polite refusal with no data, nothing changed, and a log
line naming only the action and the person."""

import logging

import pytest
from sqlalchemy import func, select

from handlers import registry
from handlers.permissions import RIGHTS, allows
from handlers.registry import BUTTONS, COMMANDS
from storage import cases as store
from storage.models import Alert, AuditEntry, Case, Draft, Invite, Person
from storage.people import ROLES
from tests.fakechannel import User
from tests.helpers import enrolled, vi
from tests.test_digest import person

REFUSAL = "This command is not available for your role."
DESCRIPTION = "Chồng đánh vợ ở nhà sau bếp, hàng xóm nghe tiếng kêu cứu"


def test_every_command_is_in_the_one_table():
    assert set(COMMANDS) == set(RIGHTS)


@pytest.mark.parametrize("doc, heading", [
    ("docs/it.en.md", "## Roles and what each may do"),
    ("docs/it.vi.md", "## Vai trò và quyền của từng vai trò"),
])
def test_the_it_guide_shows_the_table(doc, heading):
    import re
    from pathlib import Path

    text = Path(__file__).resolve().parent.parent.joinpath(doc).read_text(encoding="utf-8")
    assert heading in text, f"{doc} has no section {heading!r}"
    section = text[text.index(heading):].split("\n## ")[0]
    rows = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    for command in RIGHTS:
        assert re.search(rf"`/{command}[` ]", rows), f"/{command} is missing from the table of roles in {doc}"


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_may_use_exactly_its_commands(app, role):
    person_ = await enrolled(
        app, f"p-{role}", roles=(role,), villages=("t03",) if role == "reporter" else (),
        org="village_head" if role == "reporter" else None, name=f"Người {role}",
        commune=None if role == "province" else "xuanduong",
    )
    for name, allowed in RIGHTS.items():
        if name == "start":
            continue
        replies = await person_.say(f"/{name}")
        may = allowed is None or role in allowed
        if may:
            assert replies and replies != [vi(REFUSAL)], f"{role} should be able to use /{name}"
        elif name == "baotin":  # someone who may not report a case still gets the numbers to call first
            assert replies[-1:] == [vi(REFUSAL)], f"{role} must be refused /{name}, got {replies}"
        else:
            assert replies == [vi(REFUSAL)], f"{role} must be refused /{name}, got {replies}"
        await person_.say("/huy")
        app.clock.advance(seconds=30)  # stay under the flood limit


# ---- buttons ---------------------------------------------------------------------------------


def every_press() -> dict[str, str]:
    """Every press the registered buttons have ("a", "o:s", …) and the command whose rights it needs."""
    return {key: name for b in BUTTONS.values() for key, name in b.presses().items()}


def test_every_button_acts_for_a_command_of_the_table():
    presses = every_press()
    assert {"l", "r", "h", "i", "p", "a", "o:v", "o:c", "o:n", "o:s", "o:u", "o:uy", "o:ux"} <= set(presses)
    assert presses["o:c"] == "vuviec" and presses["o:n"] == presses["o:s"] == "capnhat" and presses["a"] == "nhan"
    assert set(presses.values()) <= set(RIGHTS)


def test_a_button_without_a_command_in_the_table_cannot_be_registered():
    async def run(ctx, data):  # pragma: no cover - never registered
        raise AssertionError

    with pytest.raises(ValueError):
        registry.button("zz")(run)
    with pytest.raises(KeyError, match="RIGHTS"):
        registry.button("zz", command="nosuchcommand")(run)
    with pytest.raises(KeyError, match="RIGHTS"):
        registry.button("zz", actions={"x": "vuviec", "y": "nosuchcommand"})(run)
    assert "zz" not in BUTTONS


# Realistic arguments for a forged press, so that it would do harm if a check were missing; a
# button not listed here gets the case's id (and is covered all the same: the refusal comes first).
FORGED_ARGS = {
    "o:s": "{case}:confirmed_dv", "o:v": "xuanduong:t03", "o:u": "{reporter}", "o:uy": "{reporter}",
    "i": "reporter:t03", "r": "BC-2026-0001", "h": "HS-2026-0001", "l": "en", "p": "skip",
}


async def a_consented_case(app) -> dict:
    """One person of each role, and an urgent, consented case alerted to the police, leader and office."""
    ids = {}
    for role in ROLES:
        ids[role] = await person(app, f"p-{role}", [role], commune=None if role == "province" else "xuanduong",
                                 villages=["t03"] if role == "reporter" else (), name=f"Người {role}")
    now = app.clock.now()
    async with app.sessions() as s, s.begin():
        case = Case(ref="HS-2026-0001", commune_id="xuanduong", reporter_id=ids["reporter"], urgent=True,
                    created_at=now, confirmed_at=now, updated_at=now, status="verifying", police_routed=True,
                    village_id="t03", kind="domestic", consent="agreed")
        s.add(case)
        await s.flush()
        store.add_text(s, app.services.keyring, case, "description", DESCRIPTION, author_id=ids["reporter"], now=now)
        for role in ("police", "leader", "office"):
            s.add(Alert(case_id=case.id, kind="urgent", recipient_id=ids[role], role=role, created_at=now))
        ids["case"] = case.id
    return ids


async def snapshot(app, ids) -> dict:
    async with app.sessions() as s:
        case = await s.get(Case, ids["case"])
        return {
            "status": case.status, "ack": (case.ack_by, case.ack_at),
            "audit": (await s.execute(select(AuditEntry.id, AuditEntry.action).order_by(AuditEntry.id))).all(),
            "drafts": await s.scalar(select(func.count()).select_from(Draft)),
            "invites": await s.scalar(select(func.count()).select_from(Invite)),
            "active": (await s.scalars(select(Person.id).where(Person.active.is_(True)).order_by(Person.id))).all(),
            "acked alerts": await s.scalar(select(func.count()).select_from(Alert)
                                           .where(Alert.acknowledged_at.is_not(None))),
        }


@pytest.mark.parametrize("role", ROLES)
async def test_a_forged_button_does_only_what_its_command_may(app, role, caplog):
    """Every press of every registered button, by this role where its command is refused to it."""
    caplog.set_level(logging.WARNING, logger="handlers.permissions")
    ids = await a_consented_case(app)
    user = User(app, f"p-{role}")
    refused = {key: name for key, name in every_press().items() if not allows(frozenset({role}), name)}
    before = await snapshot(app, ids)
    for key, name in sorted(refused.items()):
        args = FORGED_ARGS.get(key, "{case}").format(case=ids["case"], reporter=ids["reporter"])
        caplog.clear()
        replies = await user.press_data(f"{key}:{args}")
        assert replies == [vi(REFUSAL)], f"{role} pressed {key} (the rights of /{name}): {replies}"
        assert await snapshot(app, ids) == before, f"{role} pressed {key}: the database changed"
        lines = [r.getMessage() for r in caplog.records if r.name == "handlers.permissions"]
        assert lines == [f"refused button {key} to person {ids[role]} (roles: {role})"], lines
        app.clock.advance(seconds=10)  # stay under the flood limit
    assert "HS-2026-0001" not in caplog.text and DESCRIPTION not in caplog.text
    if role == "leader":  # what the issue found: a leader changed a status with forged buttons
        assert {"o:n", "o:s"} <= set(refused) and "o:c" not in refused


async def test_the_buttons_of_the_office_still_work_for_the_office(app):
    ids = await a_consented_case(app)
    office = User(app, "p-office")
    shown = await office.press_data(f"o:c:{ids['case']}")
    assert DESCRIPTION in shown[0] and vi("Change the status") in office.last.labels
    await office.press(vi("Change the status"))
    assert office.last.labels == [vi("Confirmed as domestic violence"), vi("Not domestic violence"),
                                  vi("Update support and counselling"), vi("Same household as another case")]
    await office.press_data(f"o:s:{ids['case']}:confirmed_dv")
    await office.say("Đã xác minh")
    await office.press(vi("Confirm"))
    async with app.sessions() as s:
        assert (await s.get(Case, ids["case"])).status == "confirmed_dv"


async def test_a_leader_reads_cases_as_the_reading_table_says_and_never_changes_a_status(app):
    ids = await a_consented_case(app)
    now = app.clock.now()
    async with app.sessions() as s, s.begin():
        refused = Case(ref="HS-2026-0002", commune_id="xuanduong", reporter_id=ids["reporter"], urgent=False,
                       created_at=now, confirmed_at=now, updated_at=now, status="new", village_id="t03",
                       kind="domestic", consent="refused")
        s.add(refused)
        await s.flush()
        store.add_text(s, app.services.keyring, refused, "description", "Người hàng xóm kể lại ở chợ",
                       author_id=ids["reporter"], now=now)
        refused_id = refused.id
    leader = User(app, "p-leader")
    app.clock.advance(days=2)

    (listing,) = await leader.say("/vuviec")  # both cases, coded fields only
    assert "HS-2026-0001" in listing and "HS-2026-0002" in listing
    assert DESCRIPTION not in listing and "chợ" not in listing
    assert leader.last.labels == ["HS-2026-0001", "HS-2026-0002"]

    (full,) = await leader.press("HS-2026-0001")  # consent agreed: the full record
    assert DESCRIPTION in full and leader.last.labels == []  # no "Change the status" for a leader
    (coded,) = await leader.press_data(f"o:c:{refused_id}")  # not agreed: the coded details only
    assert vi("Case {ref}", ref="HS-2026-0002") + " · " + vi("details from the lists, no description") in coded
    assert vi("Consent to share: {consent}", consent=vi("Does not agree")) in coded
    assert "chợ" not in coded and vi("Description") not in coded and leader.last.labels == []
    (typed,) = await leader.say("/vuviec HS-2026-0002")
    assert typed == coded

    assert await leader.say("/capnhat HS-2026-0001") == [vi(REFUSAL)]
    assert await leader.say("/capnhat") == [vi(REFUSAL)]
    assert await leader.press_data(f"o:n:{ids['case']}") == [vi(REFUSAL)]
    assert await leader.press_data(f"o:s:{ids['case']}:confirmed_dv") == [vi(REFUSAL)]
    async with app.sessions() as s:
        assert (await s.get(Case, ids["case"])).status == "verifying"
        reads = (await s.execute(select(AuditEntry.case_id, AuditEntry.action)
                                 .where(AuditEntry.actor_id == ids["leader"]).order_by(AuditEntry.id))).all()
    assert reads == [(ids["case"], "read_full"), (refused_id, "read_coded"), (refused_id, "read_coded")]


def test_button_data_is_typed_in_one_place_and_old_buttons_still_parse():
    from handlers.registry import Press

    # The data already in people's chats reads as before.
    assert Press.parse("o:v:xuanduong:t03") == Press("o", ("v", "xuanduong", "t03"))
    assert Press.parse("a:17").arg == "17" and Press.parse("l:vi").arg == "vi" and Press.parse("m:baocao").action == "baocao"
    assert Press("o", ("s", "12", "verifying")).encode() == "o:s:12:verifying"
    # Forged or foreign data is no press of ours.
    assert Press.parse("a" * 65) is None and Press.parse("ô:1") is None and Press.parse(":x") is None
    assert Press.parse("") is None and Press.parse(None) is None
    for bad in (Press("o", ("a:b",)), Press("o", ("x" * 70,)), Press("o", ("ồ",))):
        try:
            bad.encode()
        except ValueError:
            continue
        raise AssertionError(f"{bad} was encoded")
