"""/vuviec and /capnhat: the office (and the police, for cases routed to them) follow cases up;
leaders read them (/vuviec: the full record if consent agreed, the coded details otherwise) and
never change a status.

Lists carry coded fields only, never free text. One case is read through read_case(), which
checks the reader, gives free text only to a full reader and writes the audit log. A status
change takes a note, stored encrypted as a case text; the reporter is told the new status, never
who changed it.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from core.events import Choice, Reply
from core.i18n import N_, number, translate
from handlers import parsing
from handlers.alerts import coded_summary, reporter_line
from handlers.context import Ctx
from handlers.forms import case as case_form
from handlers.forms import engine
from handlers.forms.steps import Answers, Form, Kind, Step
from handlers.myreports import STATUS_NAMES
from handlers.office.render import KIND_LABELS
from handlers.permissions import allows
from handlers.registry import command
from storage import cases as store
from storage.models import Case, CaseCode, Person

LIST_LIMIT = 30
# Mới tiếp nhận → Đang xác minh → (Xác định là BLGĐ | Không phải) → Đang xử lý → Đã xử lý → Theo dõi → Đã đóng
NEXT = {
    "new": ("verifying",),
    "verifying": ("confirmed_dv", "not_dv"),
    "confirmed_dv": ("handling",),
    "not_dv": ("handling", "closed"),
    "handling": ("handled",),
    "handled": ("monitoring", "closed"),
    "monitoring": ("closed",),
    "closed": (),
}
TEXT_KINDS = {
    "description": N_("Description"), "source_other": N_("Source (other)"),
    "relationship_other": N_("Relationship (other)"), "followup": N_("Added information"),
    "status_note": N_("Status note"),
}


def _status(ctx_or_lang, code: str, kind: str | None = None) -> str:
    """A status's name; the confirming states in the words of the case's kind."""
    from handlers.office.render import status_name

    lang = ctx_or_lang if isinstance(ctx_or_lang, str) else ctx_or_lang.lang
    return translate(lang, status_name(code, kind) if kind else STATUS_NAMES.get(code, code))


FULL, READ = ("full",), ("full", "coded")  # a status change needs the full record; reading, either


async def _readable(ctx: Ctx, ref_or_id, levels=FULL) -> Case | None:
    """A case of the reader's commune that they may read at one of `levels` (storage/cases.py access()), or None."""
    if isinstance(ref_or_id, int):
        case = await ctx.session.get(Case, ref_or_id)
    else:
        case = await store.case_by_ref(ctx.session, ctx.person.commune_id, ref_or_id)
    if case is None or store.access(ctx.person, case) not in levels:
        return None
    return case


def _no_case(ctx: Ctx, ref: str) -> None:
    ctx.say(ctx.t("There is no case {ref} that you can open.", ref=parsing.quotable(ref, 20)))


async def _open_cases(ctx: Ctx, levels=FULL) -> list[Case]:
    stmt = (select(Case).where(Case.commune_id == ctx.person.commune_id, Case.status != "closed")
            .order_by(Case.updated_at).limit(500))
    rows = (await ctx.session.scalars(stmt)).all()
    return [c for c in rows if store.access(ctx.person, c) in levels][:LIST_LIMIT]


@command("vuviec", N_("Open cases: /vuviec, or /vuviec HS-… for one"), order=50)
async def list_cases(ctx: Ctx, arg: str) -> None:
    if arg:
        await show_case(ctx, arg)
        return
    cases = await _open_cases(ctx, READ)
    if not cases:
        ctx.say(ctx.t("There are no open cases."))
        return
    commune = ctx.commune
    lines = [ctx.t("Open cases (oldest update first):")]
    for c in cases:
        village = commune.village(c.village_id) if c.village_id else None
        lines.append(ctx.t("{ref} · {village} · {kind} · {status} · {days} days since the last update",
                           ref=c.ref, village=village.name if village else "—",
                           kind=ctx.t(KIND_LABELS[c.kind]) if c.kind in KIND_LABELS else "—",
                           status=_status(ctx, c.status, c.kind), days=number(ctx.lang, (ctx.now - c.updated_at).days)))
    ctx.say("\n".join(lines), [Choice(c.ref, f"o:c:{c.id}") for c in cases], columns=3)


async def show_case(ctx: Ctx, ref_or_id) -> None:
    """The coded details; the free text too for a full reader; the status button for who may change it."""
    case = await _readable(ctx, ref_or_id, READ)
    if case is None:
        _no_case(ctx, str(ref_or_id) if isinstance(ref_or_id, str) else "")
        return
    view = await store.read_case(ctx.session, ctx.services.keyring, case, ctx.person, channel=ctx.event.channel,
                                 now=ctx.now)
    if view is None:
        _no_case(ctx, case.ref)
        return
    days = (ctx.now - case.updated_at).days
    lines = [coded_summary(ctx.lang, case, view.codes, view.people, ctx.config.commune(case.commune_id),
                           described=bool(view.texts)),
             # whom to call back, as the alert said: an officer who lost the alert finds it here
             await reporter_line(ctx.session, ctx.services, ctx.lang, case),
             ctx.t("Status: {status} · last update {days} days ago", status=_status(ctx, case.status, case.kind),
                   days=number(ctx.lang, days)) if days else
             ctx.t("Status: {status} · last updated today", status=_status(ctx, case.status, case.kind))]
    for kind, text in view.texts:
        lines.append(f"• {ctx.t(TEXT_KINDS.get(kind, kind))}: {text}")
    buttons = [Choice(ctx.t("Change the status"), f"o:n:{case.id}", control=True, keyword=f"/capnhat {case.ref}")]
    may_change = NEXT.get(case.status) and allows(ctx.person.roles, "capnhat")
    ctx.say("\n".join(lines), buttons if may_change else [])


@command("capnhat", N_("Change a case's status: /capnhat HS-…"), order=51)
async def change_status(ctx: Ctx, arg: str) -> None:
    if not arg:
        cases = await _open_cases(ctx)
        if not cases:
            ctx.say(ctx.t("There are no open cases."))
            return
        ctx.say(ctx.t("Which case?"), [Choice(c.ref, f"o:n:{c.id}") for c in cases], columns=3)
        return
    ref, _, rest = arg.strip().partition(" ")
    if rest.strip():
        case = await _readable(ctx, ref)
        if case is None:
            _no_case(ctx, ref)
            return
        folded = parsing.fold(rest)
        for word in ("cung ho voi", "cung ho", "same household as", "same household"):
            if folded.startswith(word):
                ctx.say(await link_household(ctx, case, rest.strip()[len(word):].strip()))
                return
        ctx.say(ctx.t("After the reference, /capnhat understands “cùng hộ với HS-…” (the same household as another "
                      "case) or nothing."))
        return
    await offer_statuses(ctx, arg)


def _update_buttons(ctx: Ctx, case: Case) -> list[Choice]:
    """What the office may record on a case after the report: support and counselling (they feed the
    national targets), and the household it shares with another case."""
    return [Choice(ctx.t("Update support and counselling"), f"o:cu:{case.id}:support", control=True),
            Choice(ctx.t("Same household as another case"), f"o:cu:{case.id}:household", control=True)]


async def offer_statuses(ctx: Ctx, ref_or_id) -> None:
    case = await _readable(ctx, ref_or_id)
    if case is None:
        _no_case(ctx, ref_or_id if isinstance(ref_or_id, str) else "")
        return
    nexts = NEXT.get(case.status, ())
    if not nexts:
        ctx.say(ctx.t("Case {ref} is closed; its status can no longer change.", ref=case.ref), _update_buttons(ctx, case))
        return
    ctx.say(ctx.t("Case {ref} is now: {status}. Choose the new status:", ref=case.ref,
                  status=_status(ctx, case.status, case.kind)),
            [Choice(_status(ctx, code, case.kind), f"o:s:{case.id}:{code}") for code in nexts]
            + _update_buttons(ctx, case))


async def link_household(ctx: Ctx, case: Case, other_ref: str) -> str:
    """"cùng hộ với HS-…": households are counted from these links (a case and those linked to it are
    one household). "không" removes the link."""
    if parsing.fold(other_ref) in ("khong", "no", "none", "-"):
        case.household_case_id, case.updated_at = None, ctx.now
        store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="household",
                    case_id=case.id, now=ctx.now, detail="unlinked")
        return ctx.t("Case {ref} is no longer marked as of the same household as another case.", ref=case.ref)
    other = await _readable(ctx, other_ref.strip())
    if other is None or other.id == case.id:
        return ctx.t("There is no other case {ref} that you can open.", ref=parsing.quotable(other_ref, 20))
    root = other
    if other.household_case_id is not None:
        root = await ctx.session.get(Case, other.household_case_id) or other
    if root.id == case.id:
        return ctx.t("Case {ref} and case {other} are already of the same household.", ref=case.ref, other=other.ref)
    case.household_case_id, case.updated_at = root.id, ctx.now
    # Cases already linked to this one follow it into the household.
    for linked in (await ctx.session.scalars(select(Case).where(Case.household_case_id == case.id))).all():
        linked.household_case_id = root.id
    store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="household", case_id=case.id,
                now=ctx.now, detail=f"same household as {root.ref}")
    return ctx.t("Case {ref} is marked as of the same household as {other}; the figures count them as one "
                 "household.", ref=case.ref, other=root.ref)


async def _pressed_update(ctx: Ctx, parts: list[str]) -> None:
    """o:cu:<case>:support|household, from /capnhat."""
    if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in ("support", "household"):
        return
    case = await _readable(ctx, int(parts[0]))
    if case is None:
        _no_case(ctx, "")
        return
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.offer_resume(ctx, *found)
        return
    if parts[1] == "household":
        form = CASE_HOUSEHOLD
    else:
        form = CASE_SUPPORT_TRAFFICKING if case.kind == "trafficking" else CASE_SUPPORT
    await engine.start(ctx, form, meta={"case_id": case.id})


async def _pressed_case(ctx: Ctx, parts: list[str]) -> None:
    if parts and parts[0].isdigit():
        await show_case(ctx, int(parts[0]))


async def _pressed_change(ctx: Ctx, parts: list[str]) -> None:
    if parts and parts[0].isdigit():
        await offer_statuses(ctx, int(parts[0]))


async def _pressed_status(ctx: Ctx, parts: list[str]) -> None:
    if len(parts) != 2 or not parts[0].isdigit():
        return
    case = await _readable(ctx, int(parts[0]))
    if case is None:
        _no_case(ctx, "")
        return
    if parts[1] not in NEXT.get(case.status, ()):
        ctx.say(ctx.t("That status cannot follow the current one ({status}).",
                      status=_status(ctx, case.status, case.kind)))
        return
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.offer_resume(ctx, *found)
        return
    await engine.start(ctx, CASE_STATUS, meta={"case_id": case.id, "from": case.status, "to": parts[1]})


async def submit(ctx: Ctx, answers: Answers, meta: dict) -> str:
    case = await _readable(ctx, meta["case_id"])
    if case is None:
        return ctx.t("That case could not be found.")
    if case.status != meta["from"]:
        return ctx.t("Case {ref} changed meanwhile (now: {status}); nothing was saved.", ref=case.ref,
                     status=_status(ctx, case.status, case.kind))
    store.set_status(ctx.session, case, meta["to"], now=ctx.now, by_id=ctx.person.id)
    store.add_text(ctx.session, ctx.services.keyring, case, "status_note", answers["note"], author_id=ctx.person.id,
                   now=ctx.now)
    store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="status", case_id=case.id,
                now=ctx.now, detail=f"{meta['from']}->{meta['to']}")
    reporter = await ctx.session.get(Person, case.reporter_id)
    if reporter is not None and reporter.active and reporter.id != ctx.person.id:
        ctx.push(reporter.id, Reply(text=translate(reporter.lang, "The status of case {ref} that you reported is "
                                                   "now: {status}.", ref=case.ref,
                                                   status=_status(reporter.lang, case.status, case.kind))))
    return ctx.t("Case {ref} is now: {status}.", ref=case.ref, status=_status(ctx, case.status, case.kind))


async def _status_change(ctx: Ctx, meta: dict) -> str | None:
    """What the review is about to save: the case and its status, from → to."""
    case = await ctx.session.get(Case, meta.get("case_id"))
    if case is None:
        return None
    return ctx.t("Case {ref}: {old} → {new}", ref=case.ref, old=_status(ctx, meta["from"], case.kind),
                 new=_status(ctx, meta["to"], case.kind))


CASE_STATUS = engine.register(Form(
    name="case_status", title=N_("Change a case's status"), sensitive=True, submit=submit, about=_status_change,
    items=(Step("note", Kind.TEXT, N_("Type a short note about this change. It is stored encrypted; only those who "
                                      "may read the case can see it."), label=N_("Note"),
                warning=N_("Do not write names, ID numbers, phone numbers or addresses of the people involved."),
                max_length=1000),),
))

async def submit_support(ctx: Ctx, answers: Answers, meta: dict) -> str:
    case = await _readable(ctx, meta["case_id"])
    if case is None:
        return ctx.t("That case could not be found.")
    await ctx.session.execute(delete(CaseCode).where(CaseCode.case_id == case.id, CaseCode.field == "support"))
    for code in dict.fromkeys(answers.get("support") or []):
        ctx.session.add(CaseCode(case_id=case.id, field="support", code=code))
    changed = ["support"]
    for field in ("perpetrator_counselled", "needs_support"):
        if field in answers:
            setattr(case, field, answers[field])
            changed.append(field)
    case.updated_at = ctx.now
    store.audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="update", case_id=case.id,
                now=ctx.now, detail=",".join(changed))
    return ctx.t("Case {ref}: support and counselling are updated; the figures count them from now on.", ref=case.ref)


async def submit_household(ctx: Ctx, answers: Answers, meta: dict) -> str:
    case = await _readable(ctx, meta["case_id"])
    if case is None:
        return ctx.t("That case could not be found.")
    return await link_household(ctx, case, answers["household_ref"])


_SUPPORT = next(st for st in case_form.ITEMS if isinstance(st, Step) and st.key == "support")
_COUNSELLED = next(st for st in case_form.ITEMS if isinstance(st, Step) and st.key == "perpetrator_counselled")
_NEEDS = next(st for st in case_form.ITEMS if isinstance(st, Step) and st.key == "needs_support")
CASE_SUPPORT = engine.register(Form(
    name="case_support", title=N_("Update support and counselling"), sensitive=True, submit=submit_support,
    items=(Step("support", Kind.MULTI, N_("Support the person subjected has received so far? Choose all that "
                                          "apply."), label=_SUPPORT.label, options=case_form.SUPPORT),
           Step("perpetrator_counselled", Kind.CHOICE, _COUNSELLED.prompt, label=_COUNSELLED.label,
                options=case_form.YES_NO_UNKNOWN)),
))
CASE_SUPPORT_TRAFFICKING = engine.register(Form(
    name="case_support_trafficking", title=N_("Update support and counselling"), sensitive=True,
    submit=submit_support,
    items=(Step("needs_support", Kind.CHOICE, _NEEDS.prompt, label=_NEEDS.label, options=case_form.YES_NO_UNKNOWN),
           Step("support", Kind.MULTI, N_("Support the victim has received so far? Choose all that apply."),
                label=_SUPPORT.label, options=case_form.SUPPORT)),
))
CASE_HOUSEHOLD = engine.register(Form(
    name="case_household", title=N_("Same household as another case"), sensitive=True, submit=submit_household,
    items=(Step("household_ref", Kind.TEXT, N_("The reference of the case of the same household (HS-…)? Type "
                                               "“không” to remove the link."), label=N_("Same household as"),
                max_length=40),),
))

# The "o:…" buttons of this module: sub-action → (the command whose rights a press needs, handler).
ACTIONS = {"c": ("vuviec", _pressed_case), "n": ("capnhat", _pressed_change), "s": ("capnhat", _pressed_status),
           "cu": ("capnhat", _pressed_update)}
