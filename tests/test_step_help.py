"""Every question of the reporters' forms explains itself: "?" or "trợ giúp" shows the step's own help,
which ends with an answer the step really accepts ("For example: “120”."), then asks again.

The convention: a step's help ends with one "For example:" (in Vietnamese "Ví dụ:") followed by the
example in curly quotes. A several-choice step gives two quoted messages: the numbers, then the word
that ends the step (“1 2”, then “done”). A photo step quotes only the word typed after the photos."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.events import Incoming
from core.i18n import translate
from handlers import parsing
from handlers.context import Ctx, Services
from handlers.forms import case, engine, followup, kinds, outreach  # noqa: F401 - they register the forms
from handlers.forms.answers import Refusal
from handlers.forms.steps import SKIPPED, FormEnv, Group, Kind, Step
from storage.drafts import load_draft
from storage.models import Person
from storage.people import Profile
from tests.helpers import enrolled_plain

MARKERS = {"en": "For example:", "vi": "Ví dụ:"}
QUOTED = re.compile(r"“([^”]*)”")
CONTROL_WORDS = engine.CANCEL_WORDS | engine.RESUME_WORDS | engine.BACK_WORDS | engine.HELP_WORDS


def reporters_forms():
    """The forms of handlers/forms (the office's own forms live elsewhere)."""
    return [f for f in engine.FORMS.values() if f.submit.__module__.startswith("handlers.forms.")]


def steps_of(form):
    """Every step as declared, repeat-group steps and every worded or per-campaign copy included."""
    for item in form.items:
        yield from (item.steps if isinstance(item, Group) else (item,))


def make_ctx(config, clock, keyring, lang: str) -> Ctx:
    person = Profile(id=1, name="", commune_id="xuanduong", roles=frozenset({"reporter"}), villages=("t03",),
                     has_phone=False, org="village_head", lang=lang, active=True)
    event = Incoming(channel="terminal", account="test", user_id="u", chat_id="u", dedup_key="k", text="")
    return Ctx(services=Services(config=config, clock=clock, keyring=keyring), session=None, event=event,
               person=person, lang=lang)


def examples(text: str, marker: str) -> list[str]:
    assert text.count(marker) == 1, text
    tail = text.split(marker, 1)[1]
    found = QUOTED.findall(tail)
    assert found, text
    assert text.rstrip().endswith(("”.", ".”")), text  # the example is the help's last sentence
    return found


def read_example(ctx: Ctx, step: Step, said: list[str]):
    """What the engine makes of the example typed as shown: the value it would store."""
    kind = kinds.KINDS[step.kind]
    for text in said:
        assert parsing.fold(text) not in CONTROL_WORDS and text.strip() != "?", (step.key, text)
    if kind.photos:
        assert all(parsing.fold(t) in engine.DONE_WORDS for t in said), (step.key, said)
        return SKIPPED
    if kind.gathers:
        *chosen, done = said
        assert chosen and parsing.fold(done) in engine.DONE_WORDS, (step.key, said)
        value: list = []
        for text in chosen:
            outcome = kinds.typed(ctx, step, text, parsing.fold(text))
            assert not isinstance(outcome, Refusal), (step.key, text, outcome.message)
            value += outcome.value
        return value
    assert len(said) == 1, (step.key, said)
    (text,) = said
    if parsing.fold(text) in engine.SKIP_WORDS and step.optional:
        return SKIPPED
    outcome = kinds.typed(ctx, step, text, parsing.fold(text))
    assert not isinstance(outcome, Refusal), (step.key, text, outcome.message)
    return outcome.value


def check_form(ctx: Ctx, form, lang: str) -> int:
    """Each example read by its step, and the checks between steps run on the examples before it
    (men within the total, men + women = the total, young people within the total)."""
    answers: dict = {}
    checked = 0
    for step in steps_of(form):
        text = ctx.t(step.help)
        if lang != "en" and text == step.help:
            continue  # not in the catalog yet
        value = read_example(ctx, step, examples(text, MARKERS[lang]))
        if step.check is not None and value is not SKIPPED:
            assert step.check(value, answers, FormEnv(ctx)) is None, (step.key, value, answers)
        answers[step.key] = value
        checked += 1
    return checked


def test_the_reporters_forms_are_all_checked():
    assert {f.name for f in reporters_forms()} == {"outreach", "case", "case_followup"}


@pytest.mark.parametrize("form", reporters_forms(), ids=lambda f: f.name)
def test_every_step_has_help_ending_with_an_example_it_accepts(form, config, clock, keyring):
    steps = list(steps_of(form))
    assert steps
    for step in steps:
        assert step.help.strip(), f"{form.name}.{step.key} has no help"
        assert "{" not in step.help, "the engine translates help without parameters"
    assert check_form(make_ctx(config, clock, keyring, "en"), form, "en") == len(steps)


@pytest.mark.parametrize("form", reporters_forms(), ids=lambda f: f.name)
def test_the_vietnamese_examples_are_accepted_once_translated(form, config, clock, keyring):
    """Until the catalog has the help texts this checks nothing; then every Vietnamese example too."""
    check_form(make_ctx(config, clock, keyring, "vi"), form, "vi")


def test_the_campaign_questions_share_one_help_and_the_case_wordings_keep_theirs():
    campaign = [s for s in outreach.ITEMS if s.key.startswith("in_")]
    assert len(campaign) == len(outreach.CAMPAIGN_QUESTIONS)
    assert len({s.help for s in campaign}) == 1
    by_key: dict[str, set[str]] = {}
    for step in steps_of(case.CASE):
        by_key.setdefault(step.key, set()).add(step.help)
    assert all(len(helps) == 1 for helps in by_key.values())


# ---- in a conversation ----------------------------------------------------------------------------


def en(msgid: str, **params) -> str:
    return translate("en", msgid, **params)


def step_named(form, key: str) -> Step:
    return next(s for s in steps_of(form) if s.key == key)


async def draft_state(app):
    async with app.sessions() as s:
        person_id = await s.scalar(select(Person.id).order_by(Person.id.desc()))
        return (await load_draft(s, app.services.keyring, person_id)).state


async def in_english(app):
    head = await enrolled_plain(app)
    assert en("The language has been changed.") in (await head.say("/ngonngu en"))[0]
    return head


async def test_a_question_mark_at_the_attendance_step_explains_it_and_asks_again(app):
    head = await in_english(app)
    total = step_named(outreach.OUTREACH, "attendees_total")
    for answer in ("/baocao", "1", "yesterday", "no", "1", "1 2 xong"):
        await head.say(answer)
    assert en(total.prompt) in head.last.text
    replies = await head.say("?")
    assert replies[0].startswith(en(total.help))
    assert en(kinds.KINDS[Kind.INTEGER].help_for(app.plain.capabilities)) in replies[0]
    assert en(total.prompt) in replies[-1] and en(total.prompt) not in replies[0]
    assert "attendees_total" not in (await draft_state(app)).answers
    # The help's own example is accepted: the form goes on to the men.
    (example,) = examples(total.help, MARKERS["en"])
    assert en(step_named(outreach.OUTREACH, "attendees_male").prompt) in (await head.say(example))[-1]
    assert (await draft_state(app)).answers["attendees_total"] == int(example)


async def test_tro_giup_without_tone_marks_at_a_several_choice_step_keeps_what_was_chosen(app):
    head = await in_english(app)
    forms = step_named(case.CASE, "forms")
    for answer in ("/baotin", "no", "1", "yesterday", "3", "1"):
        await head.say(answer)
    assert en(forms.prompt) in head.last.text
    await head.say("1")  # Physical, chosen and not yet done
    replies = await head.say("tro giup")
    assert replies[0].startswith(en(forms.help))
    assert en(forms.prompt) in replies[-1] and "[x]" in replies[-1]
    state = await draft_state(app)
    assert "forms" not in state.answers and state.meta["pending"]["items"] == ["physical"]
    people = step_named(case.CASE, "people_count")
    assert en(people.prompt) in (await head.say("xong"))[-1]
    assert (await draft_state(app)).answers["forms"] == ["physical"]
