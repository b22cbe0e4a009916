"""Every role × every command: allowed roles get an answer, the others a polite refusal with no data."""

import pytest

from handlers.permissions import RIGHTS
from handlers.registry import COMMANDS
from storage.people import ROLES
from tests.helpers import enrolled, vi

REFUSAL = "This command is not available for your role."


def test_every_command_is_in_the_one_table():
    assert set(COMMANDS) == set(RIGHTS)


def test_the_readme_shows_the_table():
    from pathlib import Path

    readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text(encoding="utf-8")
    for command in RIGHTS:
        assert f"/{command}" in readme, f"/{command} is missing from the README's table of roles"


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_may_use_exactly_its_commands(app, role):
    person = await enrolled(
        app, f"p-{role}", roles=(role,), villages=("t03",) if role == "reporter" else (),
        org="village_head" if role == "reporter" else None, name=f"Người {role}",
        commune=None if role == "province" else "xuanduong",
    )
    for name, allowed in RIGHTS.items():
        if name == "start":
            continue
        replies = await person.say(f"/{name}")
        may = allowed is None or role in allowed
        if may:
            assert replies and replies != [vi(REFUSAL)], f"{role} should be able to use /{name}"
        else:
            assert replies == [vi(REFUSAL)], f"{role} must be refused /{name}, got {replies}"
        await person.say("/huy")
        app.clock.advance(seconds=30)  # stay under the flood limit
