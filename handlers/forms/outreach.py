"""Report 1 of DOMAIN.md: an outreach session ("Báo cáo buổi tuyên truyền")."""

from __future__ import annotations

from core.i18n import N_, number
from handlers import parsing
from handlers.context import Ctx
from handlers.forms.answers import as_date
from handlers.forms.engine import register
from handlers.forms.steps import Answers, Form, FormEnv, Kind, Option, Step, differs, equals, selected
from storage.models import Report
from storage.reports import NewReport, save_report, topics_of
from storage.stats import LARGE_SESSION, campaign_on

WHOLE_COMMUNE = "all"
UNCOUNTED = "uncounted"

FORMATS = (
    Option("meeting", N_("Village meeting / conference")),
    Option("branch", N_("Branch or union group meeting")),
    Option("household", N_("Household visits")),
    Option("loudspeaker", N_("Loudspeaker broadcast")),
    Option("contest", N_("Contest, performance, sketch")),
    Option("dialogue", N_("Policy talk or dialogue")),
    Option("launch", N_("Launch ceremony, rally")),
    Option("training", N_("Training")),
    Option("online", N_("Zalo group, social media")),
    Option("other", N_("Other")),
)
TOPICS = (
    Option("gender_equality", N_("Law on Gender Equality")),
    Option("domestic_violence", N_("Domestic violence prevention")),
    Option("trafficking", N_("Human trafficking prevention")),
    Option("reproductive_health", N_("Reproductive health, family planning")),
    Option("sex_ratio", N_("Sex imbalance at birth")),
    Option("child_marriage", N_("Child marriage, consanguineous marriage")),
    Option("child_abuse", N_("Child abuse prevention")),
    Option("online_safety", N_("Online safety")),
    Option("other", N_("Other")),
)
CAMPAIGNS = (
    Option("gender_month", N_("Action Month for Gender Equality (15/11–15/12)")),
    Option("dv_month", N_("Action Month against Domestic Violence (June, Family Day 28/6)")),
    Option("women_day", N_("International Women's Day 8/3")),
    Option("vn_women_day", N_("Vietnamese Women's Day 20/10")),
    Option("trafficking_day", N_("Day against Human Trafficking 30/7")),
    Option("none", N_("None")),
)
LANGUAGES = (
    Option("vi", N_("Vietnamese")),
    Option("tay", N_("Tày")),
    Option("nung", N_("Nùng")),
    Option("dao", N_("Dao")),
    Option("hmong", N_("Mông")),
    Option("bilingual", N_("Bilingual")),
)
YES_NO = (Option("yes", N_("Yes")), Option("no", N_("No")))
# Asked right after the date when it falls in a campaign of the plan, so sessions are tagged to
# their campaign without the optional details.
CAMPAIGN_QUESTIONS = {
    "gender_month": N_("Was this session part of the Action Month for Gender Equality (15/11 – 15/12)?"),
    "dv_month": N_("Was this session part of the National Action Month on the prevention of domestic violence "
                   "(June)?"),
    "women_day": N_("Was this session part of International Women's Day (8/3)?"),
    "vn_women_day": N_("Was this session part of Vietnamese Women's Day (20/10)?"),
    "trafficking_day": N_("Was this session part of the Day against Human Trafficking (30/7)?"),
}


CAMPAIGN_LABELS = {o.code: o.label for o in CAMPAIGNS}


def campaign_key(code: str) -> str:
    """The answer "was it part of this campaign?" (yes / no), one per campaign."""
    return f"in_{code}"


def campaign_of(answers: Answers) -> str | None:
    """The campaign whose dates hold the session's date, if any."""
    held = answers.get("held_on")
    found = campaign_on(as_date(held)) if isinstance(held, str) else None
    return found[0] if found else None


def _during(code: str):
    return lambda answers: campaign_of(answers) == code


def _campaign_asked(answers: Answers) -> bool:
    return campaign_of(answers) is not None


def _villages(env: FormEnv) -> list[Option]:
    commune = env.ctx.commune
    mine = env.ctx.person.villages if env.ctx.person else ()
    opts = [Option(v.id, v.name) for v in commune.villages if v.id in mine]
    return opts + [Option(WHOLE_COMMUNE, N_("Whole commune / several villages"))]


def _not_your_village(text: str, env: FormEnv) -> tuple[str, dict] | None:
    commune = env.ctx.commune
    names = [v.name for v in commune.villages]
    hit = parsing.parse_choices(text, names, multi=False) if not text.strip().isdigit() else None
    if hit is not None:
        return (N_("{village} is not one of your villages. Please choose one of the buttons.") if env.ctx.caps.buttons
                else N_("{village} is not one of your villages. Please type the number of one of yours."),
                {"village": names[hit[0]]})
    return None


def _male_within_total(value, answers: Answers, env: FormEnv):
    if isinstance(value, int) and value > answers.get("attendees_total", 0):
        return N_("Men ({male}) cannot be more than the total ({total})."), {
            "male": value, "total": answers["attendees_total"]
        }
    return None


def _sexes_add_up(value, answers: Answers, env: FormEnv):
    total, male = answers.get("attendees_total"), answers.get("attendees_male")
    if isinstance(male, int) and male + value != total:
        return (
            N_("Men {male} + women {female} = {sum}, but the total is {total}. Please type the number of women again, or go back to change the others."),
            {"male": male, "female": value, "sum": male + value, "total": total},
        )
    return None


# More than LARGE_SESSION attendances at one session is possible (a commune rally) but more often a
# slip ("1500" for "150"): the total step asks once whether it is right (Step.confirm_above).


def _within_total(msgid: str):
    """A check: a count "of the attendances" (young people, ethnic minority) is at most the total."""

    def check(value, answers: Answers, env: FormEnv):
        total = answers.get("attendees_total")
        if isinstance(value, int) and isinstance(total, int) and value > total:
            return msgid, {"n": number(env.ctx.lang, value), "total": number(env.ctx.lang, total)}
        return None

    return check


ITEMS = (
    Step("village", Kind.CHOICE, N_("Which village was the session held in?"), label=N_("Village"),
         options=_villages, explain=_not_your_village,
         help=N_("Choose the village where the session took place. If it was held for the whole commune or for several "
                 "villages together, choose “Whole commune / several villages”. For example: “1”.")),
    Step("held_on", Kind.DATE, N_("On what date was it held? (dd/mm/yyyy, or 'hôm nay', 'hôm qua')"),
         label=N_("Date held"), extra=(Option("today", N_("Today")), Option("yesterday", N_("Yesterday"))),
         help=N_("The day the session took place, not the day you report it. It cannot be in the future, and a session "
                 "from long ago cannot be reported here: tell the office. For example: “yesterday”.")),
    # One key per campaign: a date changed in the review to another campaign's days asks again.
    *(Step(campaign_key(code), Kind.YESNO, question, label=CAMPAIGN_LABELS[code], options=YES_NO,
           when=_during(code), follow_up=True,
           help=N_("The date falls within a campaign of the commune's plan. Answer Yes if the session was held for that "
                   "campaign or on its theme; answer No if it was an ordinary session held on those days. "
                   "For example: “yes”."))
      for code, question in CAMPAIGN_QUESTIONS.items()),
    Step("format", Kind.CHOICE, N_("What kind of session was it?"), label=N_("Format"), options=FORMATS,
         help=N_("The main way the information was given. A meeting of a Women's Union, Youth Union or other branch is "
                 "“Branch or union group meeting”; visiting families at home is “Household visits”. "
                 "For example: “village meeting”.")),
    Step("format_other", Kind.TEXT, N_("Please describe the kind of session briefly."),
         label=N_("Format (other)"), when=equals("format", "other"), max_length=200, follow_up=True,
         help=N_("Say in a few words what kind of session it was. For example: “film screening”.")),
    Step("topics", Kind.MULTI, N_("What topics were covered? Choose all that apply."),
         label=N_("Topics"), options=TOPICS,
         help=N_("Choose every subject the session talked about, not only the main one. "
                 "For example: “1 2”, then “done”.")),
    Step("topic_other", Kind.TEXT, N_("Please name the other topic briefly."), label=N_("Topic (other)"),
         when=selected("topics", "other"), max_length=200, follow_up=True,
         help=N_("Name the other subject in a few words. For example: “drug prevention”.")),
    Step("attendees_total", Kind.INTEGER, N_("How many attendances in total (lượt người)?"),
         label=N_("Attendances"), minimum=1, maximum=100_000, confirm_above=LARGE_SESSION,
         confirm=N_("Is this right? {n} attendances at one session. Type the number again or answer Yes to keep "
                    "it; No to change it."),
         help=N_("Count attendances (lượt người): every person present at this session counts once. A person who also "
                 "came to another session is counted again in that session's report, so a person at two sessions counts "
                 "twice in the totals. For example: “120”.")),
    Step("attendees_male", Kind.INTEGER, N_("Of them, how many men?"), label=N_("Men"),
         extra=(Option(UNCOUNTED, N_("Not counted by sex")),), maximum=100_000, check=_male_within_total,
         help=N_("How many of those attendances were men. Men and women together must make the total; if people were "
                 "not counted by sex, choose “Not counted by sex” instead of a number. "
                 "For example: “50”.")),
    Step("attendees_female", Kind.INTEGER, N_("And how many women?"), label=N_("Women"),
         when=differs("attendees_male", UNCOUNTED), maximum=100_000, check=_sexes_add_up,
         help=N_("How many of those attendances were women. Men plus women must equal the total; if they do not, check "
                 "your count, or type “back” to change the other numbers. For example: “70”.")),
    Step("more", Kind.YESNO, N_("Add more details (campaign, language, materials, youth, ethnic minority, note)?"),
         label=N_("More details"), options=YES_NO,
         help=N_("Answer Yes to add optional details: the campaign, the language used, leaflets, banners, loudspeaker "
                 "minutes, young people and ethnic minority attendances, and a note for the office. Answer No to go "
                 "straight to the photos. For example: “no”.")),
    Step("campaign", Kind.CHOICE, N_("Was it part of a campaign?"), label=N_("Campaign"), options=CAMPAIGNS,
         when=lambda answers: answers.get("more") == "yes" and not _campaign_asked(answers), optional=True,
         section=N_("More details"),
         help=N_("Choose the campaign or day of action the session was held for; choose “None” if it was not part of "
                 "one. You can skip this question. For example: “none”.")),
    Step("language", Kind.CHOICE, N_("Which language was used?"), label=N_("Language"), options=LANGUAGES,
         when=equals("more", "yes"), optional=True,
         help=N_("The language the session was held in. If two languages were used, such as Vietnamese and Mông, "
                 "choose “Bilingual”. For example: “Vietnamese”.")),
    Step("leaflets", Kind.INTEGER, N_("How many leaflets were handed out?"), label=N_("Leaflets"),
         when=equals("more", "yes"), optional=True,
         help=N_("Count the leaflets, booklets and other papers handed out at this session; type 0 if there were none. "
                 "For example: “50”.")),
    Step("banners", Kind.INTEGER, N_("How many banners or posters were put up?"), label=N_("Banners"),
         when=equals("more", "yes"), optional=True, maximum=1000,
         help=N_("Count the banners, posters or panels put up for this session; type 0 if there were none. "
                 "For example: “2”.")),
    Step("loudspeaker_minutes", Kind.INTEGER, N_("How many minutes on the loudspeaker?"),
         label=N_("Loudspeaker minutes"), when=equals("more", "yes"), optional=True, maximum=10_000,
         help=N_("The total minutes the message of this session was broadcast on the loudspeaker; type 0 if it was not "
                 "broadcast. For example: “15”.")),
    Step("youth", Kind.INTEGER, N_("Of the attendances, how many were young people?"), label=N_("Young people"),
         when=equals("more", "yes"), optional=True,
         check=_within_total(N_("Young people ({n}) cannot be more than the attendances in total ({total}). "
                                "Please type the number again.")),
         help=N_("Of the attendances, how many were young people (thanh niên, aged 16 to 30). It cannot be more than "
                 "the total. For example: “30”.")),
    Step("ethnic_minority", Kind.INTEGER, N_("Of the attendances, how many were from ethnic minorities?"),
         label=N_("Ethnic minority"), when=equals("more", "yes"), optional=True,
         check=_within_total(N_("Attendances from ethnic minorities ({n}) cannot be more than the attendances in "
                                "total ({total}). Please type the number again.")),
         help=N_("Of the attendances, how many were people of an ethnic minority, such as Tày, Nùng, Dao or Mông. It "
                 "cannot be more than the total. For example: “40”.")),
    Step("note", Kind.TEXT, N_("Any note for the office?"), label=N_("Note"), when=equals("more", "yes"),
         optional=True, max_length=1000,
         help=N_("Anything else the office should know about this session, such as a request or a problem. You can "
                 "skip this question. For example: “Please send more leaflets in Mông.”")),
    Step("photos", Kind.PHOTO, N_("Send up to 3 photos of the session (Ảnh minh chứng), one at a time. Or skip."),
         label=N_("Photos"), optional=True, max_items=3, section=N_("Photos"),
         help=N_("Photos of the session (the meeting, the banner, the people listening) show the office that it took "
                 "place. Send up to 3, one at a time, or skip if you have none. For example: send 2 photos, then type "
                 "“done”.")),
)


def _campaign(answers: Answers) -> str | None:
    if (code := campaign_of(answers)) is not None:
        return code if answers.get(campaign_key(code)) == "yes" else None
    return None if answers.get("campaign") in (None, "none") else answers.get("campaign")


def _value(answers: Answers, key: str):
    value = answers.get(key)
    return None if value in (None, UNCOUNTED) else value


async def submit(ctx: Ctx, answers: Answers, meta: dict) -> str:
    village = answers["village"]
    fields = {
        "village_id": None if village == WHOLE_COMMUNE else village,
        "held_on": as_date(answers["held_on"]),
        "format": answers["format"],
        "format_other": answers.get("format_other"),
        "topic_other": answers.get("topic_other"),
        "attendees_total": answers["attendees_total"],
        "attendees_male": _value(answers, "attendees_male"),
        "attendees_female": _value(answers, "attendees_female"),
        "campaign": _campaign(answers),
        "language": answers.get("language"),
        "note": answers.get("note"),
    }
    for key in ("leaflets", "banners", "loudspeaker_minutes", "youth", "ethnic_minority"):
        fields[key] = answers.get(key)
    corrects = await ctx.session.get(Report, meta["corrects"]) if meta.get("corrects") else None
    report = await save_report(
        ctx.session,
        NewReport(
            commune_id=ctx.person.commune_id, person_id=ctx.person.id, org=ctx.person.org,
            fields=fields, topics=list(answers["topics"]), photo_ids=list(answers.get("photos") or []),
        ),
        now=ctx.now,
        corrects=corrects,
    )
    if corrects is not None:
        return ctx.t("Report {ref} has been corrected. The earlier version is kept.", ref=report.ref)
    return ctx.t("Thank you! Your report has been saved with reference {ref}.", ref=report.ref)


async def answers_of(ctx: Ctx, report: Report, photo_ids: list[int]) -> Answers:
    """A stored report as form answers, to correct it through the same review screen."""
    answers: Answers = {
        "village": report.village_id or WHOLE_COMMUNE,
        "held_on": report.held_on.isoformat(),
        "format": report.format,
        "topics": await topics_of(ctx.session, report.id),
        "attendees_total": report.attendees_total,
        "attendees_male": UNCOUNTED if report.attendees_male is None else report.attendees_male,
        "more": "no",
        "photos": photo_ids or None,
    }
    if report.format_other:
        answers["format_other"] = report.format_other
    if report.topic_other:
        answers["topic_other"] = report.topic_other
    if report.attendees_female is not None:
        answers["attendees_female"] = report.attendees_female
    if (code := campaign_of(answers)) is not None:
        answers[campaign_key(code)] = "yes" if report.campaign == code else "no"
    extras = ("language", "leaflets", "banners", "loudspeaker_minutes", "youth", "ethnic_minority", "note")
    if code is None:
        extras = ("campaign", *extras)
    if any(getattr(report, k) is not None for k in extras):
        answers["more"] = "yes"
        for k in extras:
            answers[k] = getattr(report, k)
    return answers


async def cancelled(ctx: Ctx, answers: Answers) -> str | None:
    """Cancelling a correction must not sound like losing the report: the saved version stays."""
    if answers.get("_corrects"):
        return ctx.t("The correction has been cancelled; report {ref} stays as it was.", ref=answers["_corrects"])
    return None


OUTREACH = register(Form(name="outreach", title=N_("Outreach session report"), items=ITEMS, submit=submit, command="baocao",
                         on_cancel=cancelled))

