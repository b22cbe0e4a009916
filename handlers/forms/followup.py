"""A reporter adds information to their own case: one encrypted note, through the same engine."""

from __future__ import annotations

from core.events import Reply
from core.i18n import N_, translate
from handlers.context import Ctx
from handlers.forms.engine import register
from handlers.forms.steps import Answers, Form, Kind, Step
from storage import cases as store
from storage.models import Case, Person
from storage.people import people_with_role

ITEMS = (
    Step("note", Kind.TEXT, N_("What would you like to add to this case?"), label=N_("Added information"),
         warning=N_("Do not write names, ID numbers, phone numbers or addresses of the people involved."),
         max_length=1500,
         help=N_("New information about this case since you reported it: what has happened, what help was given, "
                 "whether the violence has stopped. Never write names, ID numbers, phone numbers or addresses of the "
                 "people involved. For example: “The couple took part in mediation; there has been no violence "
                 "since.”")),
)


async def submit(ctx: Ctx, answers: Answers, meta: dict) -> str:
    case = await ctx.session.get(Case, meta["case_id"])
    if case is None or case.reporter_id != ctx.person.id:
        return ctx.t("That case could not be found.")
    store.add_text(ctx.session, ctx.services.keyring, case, "followup", answers["note"], author_id=ctx.person.id,
                   now=ctx.now)
    case.updated_at = ctx.now
    store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="follow_up",
                case_id=case.id, now=ctx.now)
    for person_id in await people_with_role(ctx.session, case.commune_id, "office"):
        if person_id == ctx.person.id:
            continue
        person = await ctx.session.get(Person, person_id)
        ctx.push(person_id, Reply(text=translate(person.lang, "The reporter added information to case {ref}.",
                                                 ref=case.ref)))
    return ctx.t("Thank you. Your information has been added to case {ref}.", ref=case.ref)


FOLLOW_UP = register(Form(name="case_followup", title=N_("Add information to a case"), items=ITEMS, submit=submit,
                          sensitive=True))
