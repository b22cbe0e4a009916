"""/trogiup by role: the three things each role does most, each with an example that works as typed."""

from __future__ import annotations

import pytest

from handlers.menu import ROLE_NAMES
from handlers.role_help import MOST_DONE
from tests.helpers import enrolled_plain, vi

ROLE_PEOPLE = {
    "reporter": {"roles": ("reporter",)},
    "office": {"roles": ("office",), "villages": (), "org": None},
    "police": {"roles": ("police",), "villages": (), "org": None},
    "leader": {"roles": ("leader",), "villages": (), "org": None},
    "admin": {"roles": ("admin",), "villages": (), "org": None},
    "province": {"roles": ("province",), "villages": (), "org": None, "commune": None},
}
REFUSED = vi("This command is not available for your role.")
NOT_UNDERSTOOD = vi("I did not understand that.")


@pytest.mark.parametrize("role", list(ROLE_PEOPLE))
async def test_help_names_what_the_role_does_most_and_every_example_works(app, clock, role):
    person = await enrolled_plain(app, f"{role}-1", name="Người Thử", **ROLE_PEOPLE[role])
    shown = "\n".join(await person.say("tro giup"))  # typed without the slash or tone marks
    today = clock.now().date()
    values = {"year": today.year, "month": f"{today.month:02d}/{today.year}", "days": 7}
    assert vi("As {role}, what you do most:", role=vi(ROLE_NAMES[role])) in shown
    for n, (what, example) in enumerate(MOST_DONE[role], 1):
        assert f"{n}. {vi(what, **values)}" in shown
        assert f"   → {example.format(**values)}" in shown
    assert vi("Every command you may use:") in shown
    # Every example is a command this role may use, understood as typed.
    for _what, example in MOST_DONE[role]:
        for typed in example.format(**values).split(" · "):
            answer = "\n".join(await person.say(typed))
            assert REFUSED not in answer, (role, typed, answer)
            assert NOT_UNDERSTOOD not in answer, (role, typed, answer)
            await person.say("/huy")  # leave whatever the example opened


async def test_a_person_with_two_roles_gets_both(app):
    person = await enrolled_plain(app, "oa", name="Người Thử", roles=("office", "admin"), villages=(), org=None)
    shown = "\n".join(await person.say("/trogiup"))
    office = shown.index(vi("As {role}, what you do most:", role=vi(ROLE_NAMES["office"])))
    admin = shown.index(vi("As {role}, what you do most:", role=vi(ROLE_NAMES["admin"])))
    assert office < admin < shown.index(vi("Every command you may use:"))
    assert "/moi" in shown and "/xuat" in shown


async def test_a_reporter_is_not_shown_what_only_officers_do(app):
    person = await enrolled_plain(app, "r1", name="Người Thử")
    shown = "\n".join(await person.say("/trogiup"))
    assert "/xuat" not in shown and "/vuviec" not in shown and "/moi" not in shown
