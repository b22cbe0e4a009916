"""End to end on Telegram: a case request in the middle of an outreach report goes straight to the
danger question, the police are alerted, and the outreach draft comes back afterwards where it was."""

from __future__ import annotations

import pytest

from storage.models import Draft
from tests.helpers import vi
from tests.telegram_harness import (  # noqa: F401 - the *_fixture names register fixtures
    SteppingClock,
    emulator_fixture,
    enrol,
    telegram_bot_fixture,
)
from tests.test_case_telegram_e2e import URGENT, officers, reporter, start

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

DANGER = vi("Is anyone's life or health in immediate danger right now?")
FORM = vi("Outreach session report")


async def test_baotin_with_an_outreach_draft_open_asks_the_danger_question_at_once(telegram_bot):
    bot = await start(telegram_bot, SteppingClock())
    team = await officers(bot)
    ba = await reporter(bot)
    await ba.say("/baocao")
    await ba.press("Thôn 3")
    await ba.press(vi("Yesterday"))
    await ba.press(vi("No"))  # yesterday (24/11) is in the Action Month for Gender Equality: not part of it

    replies = await ba.say("/baotin")
    texts = [m.text for m in replies]
    assert vi("Your draft “{form}” is kept, paused. When you have finished, I will offer to continue it.",
              form=FORM) in texts
    assert DANGER in texts[-1] and replies[-1].button_texts[:2] == [vi("Yes"), vi("No")]
    await ba.press(vi("Yes"))
    assert team["police"].last.text.startswith(URGENT)
    slots = sorted((d.form, d.slot) for d in await bot.rows(Draft))
    assert slots == [("case", "active"), ("outreach", "paused")]

    # The case form is left; the outreach draft is offered again, and goes on at its third question.
    await ba.say("hủy")  # at the phone question (a reply keyboard with the share-phone button)
    offer = ba.last
    assert offer.text == vi("Your draft “{form}” was kept while you reported. Continue it now?", form=FORM)
    [question] = await ba.press(vi("Continue"))
    assert vi("What kind of session was it?") in question.text
    assert [(d.form, d.slot) for d in await bot.rows(Draft)] == [("outreach", "active")]
