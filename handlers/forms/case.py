"""Report 2 of DOMAIN.md: a suspected case ("Báo tin vụ việc nghi bạo lực gia đình").

Safety first: a "yes" to the first question creates the case and alerts at once, before any
other question. Coded answers are written to the case as they come (so a follow-up alert can
carry whatever was answered); free text is only ever stored encrypted.
"""

from __future__ import annotations

import re
from dataclasses import replace

from core.i18n import N_
from core.vocabulary import (  # noqa: F401 - the tables are the form's, named where they are asked
    AGE_NOT_KNOWN,
    AGE_NOT_KNOWN_LABEL,
    CONSENT,
    FLAGS,
    FORMS_OF_VIOLENCE,
    KINDS,
    MEASURES,
    PERPETRATOR_AGE_GROUPS,
    PERPETRATOR_AGES,
    RELATIONSHIPS,
    REPEAT,
    SEXES,
    SOURCES,
    SUBJECTED_AGE_GROUPS,
    SUBJECTED_AGES,
    SUPPORT,
    TOLD,
    YES_NO,
    YES_NO_UNKNOWN,
)
from handlers import alerts, parsing
from handlers.context import Ctx
from handlers.forms.engine import register
from handlers.forms.steps import Answers, Form, FormEnv, Group, Kind, Option, Step, equals
from storage import cases as store
from storage.models import Case, Person
from storage.people import set_phone

# A phone number (0… or +84…, 9–11 digits, spaces, dots or dashes between them) or a 12-digit ID
# number (CCCD) in a case's free text: the form asks for neither, and it would identify a person.
_IDENTIFIER = re.compile(r"(?<![\d+])(?:(?:\+|00)?84|0)(?:[\s.\-]?\d){8,10}(?!\d)|(?<!\d)\d{12}(?!\d)")


def _no_identifiers(value, answers: Answers, env: FormEnv):
    """Refused, not stored: the person types it again without the number."""
    if isinstance(value, str) and _IDENTIFIER.search(value):
        return N_("Please do not write phone numbers or ID numbers here: they identify people. Type it again "
                  "without them."), {}
    return None


def _villages(env: FormEnv) -> list[Option]:
    commune = env.ctx.commune
    mine = set(env.ctx.person.villages) if env.ctx.person else set()
    ordered = [v for v in commune.villages if v.id in mine] + [v for v in commune.villages if v.id not in mine]
    return [Option(v.id, v.name) for v in ordered]


async def _on_danger(ctx: Ctx, answers: Answers, value) -> None:
    """The urgent path: case, numbers to call and alerts now, in this very transaction."""
    if value != "yes" or answers.get("_case_id"):
        return
    case = await store.open_urgent_case(ctx.session, commune_id=ctx.person.commune_id, reporter_id=ctx.person.id,
                                        now=ctx.now)
    answers["_case_id"] = case.id
    answers["_need_phone"] = not ctx.person.has_phone
    ctx.say(alerts.emergency_numbers(ctx, case))
    await alerts.send_urgent(ctx, case)


async def _emergency(ctx: Ctx, answers: Answers) -> bool:
    """An emergency word inside the case form: this case becomes urgent (created and alerted now
    if it is not yet), never a second case."""
    if answers.get("_case_id"):
        case = await ctx.session.get(Case, answers["_case_id"])
        ctx.say(ctx.t("Case {ref} is already marked URGENT and the officers have been alerted.", ref=case.ref)
                + "\n" + alerts.numbers_line(ctx))
        return True
    answers["danger"] = "yes"
    await _on_danger(ctx, answers, "yes")
    await progress(ctx, answers)
    return True


async def _save_phone(ctx: Ctx, answers: Answers, value) -> None:
    """Stored encrypted; and on an urgent case, everyone its alert reached gets the number now, not
    when the form is confirmed many answers later."""
    if not value:
        return
    # A shared contact arrives as the messenger has it ("84912345678"): stored like a typed one.
    phone = parsing.parse_phone(value)
    phone = value if isinstance(phone, parsing.ParseError) else phone
    answers["phone"] = phone
    person = await ctx.session.get(Person, ctx.person.id)
    if not set_phone(ctx.services.keyring, person, phone):
        return
    case = await ctx.session.get(Case, answers["_case_id"]) if answers.get("_case_id") else None
    if case is not None and case.urgent:
        await alerts.send_phone(ctx, case, phone)


async def progress(ctx: Ctx, answers: Answers) -> None:
    """After each answer of an urgent case: keep its coded answers current for the follow-up alert."""
    case_id = answers.get("_case_id")
    if case_id:
        case = await ctx.session.get(Case, case_id)
        await store.apply_coded(ctx.session, case, answers, now=ctx.now)


def _kind_is(*kinds: str):
    return lambda answers: answers.get("kind") in kinds


def worded(step: Step, **variants: tuple[str, str]) -> tuple[Step, ...]:
    """One question asked in the words of the kind chosen: the step as declared for domestic violence
    (and any kind not named), and a copy per named kind with its own (prompt, label). The copies share
    the key, and exactly one is on the path, so the answer is the same whichever words asked it."""
    def unless(cond):
        return lambda answers: answers.get("kind") not in variants and (cond is None or cond(answers))

    def only(kind, cond):
        return lambda answers: answers.get("kind") == kind and (cond is None or cond(answers))

    out = [replace(step, when=unless(step.when))]
    for kind, (prompt, label) in variants.items():
        out.append(replace(step, prompt=prompt, label=label or step.label, when=only(kind, step.when)))
    return tuple(out)


GBV, TRAFFICKING = "sexual_abuse", "trafficking"


def _person_label(answers: Answers) -> str | None:
    return {GBV: N_("Person subjected to violence or abuse no. {n}"),
            TRAFFICKING: N_("Victim or person being identified as a victim no. {n}")}.get(answers.get("kind"))


PERSON_STEPS = (
    Step("sex", Kind.CHOICE, N_("Sex of this person?"), label=N_("Sex"), options=SEXES,
         help=N_("The sex of the person whose number is shown above the question. For example: “female”.")),
    Step("age_group", Kind.AGE, N_("How old is this person? An approximate age is fine; if you do not know, "
                                   "type 'không rõ'."), label=N_("Age group"), options=SUBJECTED_AGES,
         age_groups=SUBJECTED_AGE_GROUPS, extra=AGE_NOT_KNOWN,
         help=N_("Type the age in years: only the age group (under 16, 16–59, 60 and over) is kept, never the age. A "
                 "rough age is fine; if you do not know, type “không rõ”. For example: “about 40”.")),
    Step("flags", Kind.MULTI, N_("Does any of these apply? Choose all that apply."), label=N_("Circumstances"),
         options=FLAGS,
         help=N_("Choose “Has a disability” and/or “Pregnant or nursing a child under 36 months” if they apply to this "
                 "person; otherwise choose “Neither”. For example: “3”, then “done”.")),
)

ITEMS = (
    Step("danger", Kind.YESNO, N_("Is anyone's life or health in immediate danger right now?"),
         label=N_("Immediate danger"), options=YES_NO, on_answer=_on_danger,
         help=N_("Answer Yes if someone may be killed or badly hurt now or very soon: they are being beaten, threatened "
                 "with a weapon, or cannot get away. The officers are alerted at once and you are shown the numbers to "
                 "call; the other questions come after. For example: “yes”.")),
    Step("phone", Kind.PHONE, N_("What phone number can the police call you back on?"), label=N_("Your phone"),
         when=equals("_need_phone", True), optional=True, on_answer=_save_phone, follow_up=True,
         help=N_("Your own phone number, so that the police can call you back about this urgent case; it is stored "
                 "encrypted. You can skip it. For example: “0912 345 678”.")),
    Step("village_id", Kind.CHOICE, N_("In which village did it happen?"), label=N_("Village"), options=_villages,
         help=N_("The village where it happened, even if it is not one of yours; your villages come first in the list. "
                 "For example: “1”.")),
    Step("occurred_on", Kind.DATE, N_("When did it happen or come to light? An approximate date is fine."),
         label=N_("Date"), window=False, extra=(Option("today", N_("Today")), Option("yesterday", N_("Yesterday")),
                                                Option("unknown", N_("Not sure"))),
         help=N_("The day it happened; if you do not know it, the day it came to light. An approximate day is fine; if "
                 "you have no idea, choose “Not sure”. For example: “20/11”.")),
    Step("source", Kind.CHOICE, N_("How did you learn about it?"), label=N_("Source"), options=SOURCES,
         help=N_("Who first told you about it. If you saw or heard it yourself, choose “Found out myself”; if it came "
                 "another way, choose “Other”. For example: “neighbour”.")),
    Step("source_other", Kind.TEXT, N_("Please say briefly how."), label=N_("Source (other)"),
         when=equals("source", "other"), max_length=200, follow_up=True, check=_no_identifiers,
         help=N_("Say in a few words how you learned about it, without names. "
                 "For example: “from the village Zalo group”.")),
    Step("kind", Kind.CHOICE, N_("What kind of case is it?"), label=N_("Kind"), options=KINDS,
         help=N_("Domestic violence is between members of a family, including former spouses and people living "
                 "together as spouses. Gender-based violence outside the family / sexual abuse is violence or sexual "
                 "abuse by someone outside the family. Suspected human trafficking (someone lured, taken or sold for "
                 "labour, marriage or sex) goes to the police at once. For example: “domestic violence”.")),
    *worded(Step("forms", Kind.MULTI, N_("Which forms of violence? Choose all that apply."),
                 label=N_("Forms of violence"), options=FORMS_OF_VIOLENCE,
                 help=N_("Physical: beating, injuring. Psychological (tinh thần): insulting, threatening, humiliating, "
                         "controlling. Sexual: any forced sexual act. Economic: taking or withholding money or property, "
                         "forced work. Choose all that apply, or “Not yet clear”. For example: “1 2”, then “done”.")),
            sexual_abuse=(N_("Which forms of violence or abuse? Choose all that apply."), ""),
            trafficking=(N_("Which forms of violence did the victim suffer? Choose all that apply."),
                         "")),
    *worded(Step("people_count", Kind.INTEGER, N_("How many people were subjected to violence? (1–10)"),
                 label=N_("People subjected"), minimum=1, maximum=10,
                 help=N_("How many people were harmed in this case, from 1 to 10; you will then be asked the sex and age "
                         "of each. For example: “1”.")),
            sexual_abuse=(N_("How many people were subjected to violence or abuse? (1–10)"),
                          N_("People subjected to violence or abuse")),
            trafficking=(N_("How many victims or people being identified as victims? (1–10)"),
                         N_("Victims or people being identified as victims"))),
    Group("people", "people_count", N_("Person subjected to violence no. {n}"), PERSON_STEPS,
          label_for=_person_label),
    *worded(Step("perpetrator_sex", Kind.CHOICE, N_("Sex of the person who committed the violence?"),
                 label=N_("Person who committed it: sex"), options=SEXES,
                 help=N_("The sex of the person who committed it (for trafficking: the person suspected). "
                         "For example: “male”.")),
            sexual_abuse=(N_("Sex of the person who committed the violence or abuse?"),
                          N_("Person who committed the violence or abuse: sex")),
            trafficking=(N_("Sex of the person suspected of trafficking?"), N_("Person suspected of trafficking: sex"))),
    *worded(Step("perpetrator_age", Kind.AGE, N_("How old is the person who committed the violence? An approximate "
                                                 "age is fine; if you do not know, type 'không rõ'."),
                 label=N_("Person who committed it: age group"), options=PERPETRATOR_AGES,
                 age_groups=PERPETRATOR_AGE_GROUPS, extra=AGE_NOT_KNOWN,
                 help=N_("Type the age in years: only the age group (under 16, 16–17, 18–59, 60 and over) is kept, never "
                         "the age. A rough age is fine; if you do not know, type “không rõ”. For example: “45”.")),
            sexual_abuse=(N_("How old is the person who committed the violence or abuse? An approximate age is fine; "
                             "if you do not know, type 'không rõ'."),
                          N_("Person who committed the violence or abuse: age group")),
            trafficking=(N_("How old is the person suspected of trafficking? An approximate age is fine; if you do "
                            "not know, type 'không rõ'."), N_("Person suspected of trafficking: age group"))),
    *worded(Step("relationship", Kind.CHOICE, N_("Their relationship to the person subjected?"),
                 label=N_("Relationship"), options=RELATIONSHIPS,
                 help=N_("What the person who committed it is to the person subjected: if a husband hit his wife, choose "
                         "“Wife / husband”; if a son hit his mother, choose “Child”. For example: “wife / husband”.")),
            sexual_abuse=(N_("Their relationship to the person subjected to violence or abuse?"), ""),
            trafficking=(N_("Their relationship to the victim?"), "")),
    Step("relationship_other", Kind.TEXT, N_("Please name the relationship briefly."),
         label=N_("Relationship (other)"), when=equals("relationship", "other"), max_length=200, follow_up=True,
         check=_no_identifiers,
         help=N_("Say in a few words how they are related, without names. For example: “uncle”.")),
    Step("repeat", Kind.CHOICE, N_("Is this the first time, or has it happened 2 or more times in 12 months?"),
         label=N_("Times in 12 months"), options=REPEAT,
         help=N_("Choose “2 or more times in 12 months” if, as far as you know, this person has done it before in the "
                 "last 12 months, so this is the second time or more. For example: “first time”.")),
    # Asked about domestic violence only: the fine it asks about is one for domestic violence.
    Step("fined_before", Kind.CHOICE, N_("Has this person been fined for domestic violence before?"),
         label=N_("Fined before"), options=YES_NO_UNKNOWN, when=_kind_is("domestic"),
         help=N_("Answer Yes if this person has already been fined (xử phạt vi phạm hành chính) for domestic violence "
                 "before this case; Unknown if you are not sure. For example: “unknown”.")),
    # The measures of the Law on domestic violence prevention; trafficking is the police's (Law 53/2024).
    *worded(Step("measures", Kind.MULTI, N_("Measures already applied? Choose all that apply."),
                 label=N_("Measures applied"), options=MEASURES, when=_kind_is("domestic", GBV),
                 help=N_("What the commune or the police have already done about the person who committed it, under the "
                         "Law on domestic violence prevention. Choose all that apply; if nothing has been done yet, "
                         "choose “None yet”. For example: “1 3”, then “done”.")),
            sexual_abuse=(N_("Measures already applied to the person who committed the violence or abuse? Choose "
                             "all that apply."), "")),
    # NQ 28 indicator 3 counts the victims of trafficking who needed support and received it.
    Step("needs_support", Kind.CHOICE, N_("Does the victim need support (cần hỗ trợ)?"),
         label=N_("Victim needs support"), options=YES_NO_UNKNOWN, when=_kind_is(TRAFFICKING),
         help=N_("Answer Yes if the victim needs any help: medical care, counselling, legal aid, a safe place to stay, "
                 "essential needs or help to return home. For example: “yes”.")),
    *worded(Step("support", Kind.MULTI, N_("Support the person subjected has received? Choose all that apply."),
                 label=N_("Support received"), options=SUPPORT,
                 help=N_("The help the person has already received since it happened: medical care, psychological "
                         "counselling, legal aid, a shelter or trusted address (địa chỉ tin cậy), essential needs. If none "
                         "yet, choose “No support yet”. For example: “1 2”, then “done”.")),
            sexual_abuse=(N_("Support the person subjected to violence or abuse has received? Choose all "
                             "that apply."), ""),
            trafficking=(N_("Support the victim has received? Choose all that apply."), "")),
    *worded(Step("perpetrator_counselled", Kind.CHOICE,
                 N_("Has the person who committed the violence been counselled (đã được tư vấn, tham vấn)?"),
                 label=N_("Person who committed it counselled"), options=YES_NO_UNKNOWN,
                 when=_kind_is("domestic", GBV),
                 help=N_("Answer Yes if the person who committed it has been counselled (tư vấn, tham vấn) to change their "
                         "behaviour, by the commune, a mediation group or an organisation. For example: “no”.")),
            sexual_abuse=(N_("Has the person who committed the violence or abuse been counselled (đã được tư vấn, "
                             "tham vấn)?"), N_("Person who committed the violence or abuse counselled"))),
    Step("told", Kind.MULTI, N_("Who has been told so far? Choose all that apply."), label=N_("Already told"),
         options=TOLD,
         help=N_("Everyone who already knows about this case, apart from you. If you have told nobody yet, choose "
                 "“Nobody yet”. For example: “2”, then “done”.")),
    *worded(Step("consent", Kind.CHOICE, N_("Does the person subjected agree to their information being shared?"),
                 label=N_("Consent to share"), options=CONSENT,
                 help=N_("Ask the person subjected whether they agree that their information is shared. Their answer "
                         "decides who may read the details and whether the case may appear in exported files; urgent "
                         "cases, sexual violence and trafficking go to the police whatever the answer. If you could not "
                         "ask, choose “Could not ask yet”: it counts as not agreeing. For example: “agrees”.")),
            sexual_abuse=(N_("Does the person subjected to violence or abuse agree to their information being "
                             "shared?"), ""),
            trafficking=(N_("Does the victim agree to their information being shared?"), "")),
    Step("description", Kind.TEXT, N_("Briefly, what happened? (optional)"), label=N_("Description"),
         warning=N_("Do not write names, ID numbers, phone numbers or addresses of the people involved."),
         optional=True, max_length=1500, check=_no_identifiers,
         help=N_("A few sentences: what happened, who did it to whom (say “the husband”, “the wife”, “the child”), and "
                 "what has been done. Never write names, ID numbers, phone numbers or addresses of the people "
                 "involved. You can skip this question. "
                 "For example: “The husband was drunk and hit his wife; a neighbour reported it.”")),
)


async def submit(ctx: Ctx, answers: Answers, meta: dict) -> str:
    case_id = answers.get("_case_id") or meta.get("case_id")
    case = await ctx.session.get(Case, case_id) if case_id else None
    if case is None:
        case = await store.open_case(ctx.session, commune_id=ctx.person.commune_id, reporter_id=ctx.person.id,
                                     now=ctx.now)
    await store.apply_coded(ctx.session, case, answers, now=ctx.now)
    # Whatever the form's text steps are, their answers are stored, and only encrypted.
    for address, text in CASE.free_text(answers).items():
        store.add_text(ctx.session, ctx.services.keyring, case, address, text, author_id=ctx.person.id, now=ctx.now)
    case.confirmed_at = ctx.now
    await alerts.send_details(ctx, case)
    text = ctx.t("Thank you. The case has been recorded as {ref}. The commune will follow it up; you can add "
                 "information later with /cuatoi.", ref=case.ref)
    return text + "\n" + alerts.numbers_line(ctx) if case.urgent else text


async def cancelled(ctx: Ctx, answers: Answers) -> str | None:
    """Cancelling never cancels an alert: an urgent case stays, and the reporter is told so."""
    case = await ctx.session.get(Case, answers["_case_id"]) if answers.get("_case_id") else None
    if case is None:
        return None
    return ctx.t("The form is closed. Urgent case {ref} stays recorded and the officers have been alerted; "
                 "they will contact you.", ref=case.ref) + "\n" + alerts.numbers_line(ctx)


CASE = register(Form(name="case", title=N_("Case report"), items=ITEMS, submit=submit, sensitive=True,
                     command="baotin", on_progress=progress, on_cancel=cancelled, on_emergency=_emergency))

