"""One engine walks every form: asks, validates, goes back, skips, reviews, confirms.

Button data is `f<seq>:<action>`: seq numbers the question a button belongs to, so a late press
on an old question is recognised and not applied. Typed answers always go to the current question.
"""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import timedelta
from typing import Any

from core.events import Choice, Reply
from core.i18n import number
from handlers import hygiene, parsing
from handlers.context import Ctx
from handlers.forms import answers as parse
from handlers.forms import kinds
from handlers.forms.kinds import KINDS
from handlers.forms.steps import (
    NONE_CODES,
    SKIPPED,
    Answers,
    Form,
    FormEnv,
    Group,
    Position,
    answered,
    get_answer,
    on_path,
    path,
    progress,
    scope,
    set_answer,
)
from storage import photos as photo_store
from storage.drafts import (
    PAUSED,
    DraftState,
    OpenDraft,
    create_draft,
    discard_draft,
    load_draft,
    pause_draft,
    save_draft,
    unpause_draft,
)

FORMS: dict[str, Form] = {}

BACK_WORDS = {"quay lai", "back", "lui", "tro lai"}
SKIP_WORDS = {"bo qua", "skip", "khong co"}
CANCEL_WORDS = {"huy", "cancel", "thoi", "huy ban nhap", "discard", "discard draft"}
RESUME_WORDS = {"tiep tuc", "continue"}
HELP_WORDS = {"tro giup", "help", "?", "giup"}
DONE_WORDS = {"xong", "done", "het", "tiep", "0"}
LIST_WORDS = {"xem", "ds", "danh sach", "list", "xem lai", "xem danh sach"}  # a several-choice list shown again
CONFIRM_WORDS = {"xac nhan", "xacnhan", "ok", "gui", "dong y", "confirm", "send", "hoan thanh"}


def is_confirm_word(text: str) -> bool:
    return parsing.fold(text).strip(" .!") in CONFIRM_WORDS


def register(form: Form) -> Form:
    FORMS[form.name] = form
    return form


def expiry(ctx: Ctx, form: Form):
    f = ctx.config.forms
    if form.sensitive:
        return ctx.now + timedelta(hours=f.case_draft_expiry_hours)
    return ctx.now + timedelta(days=f.draft_expiry_days)


async def start(ctx: Ctx, form: Form, *, answers: dict | None = None, meta: dict | None = None) -> None:
    """Open a new draft; with answers given (a correction) go straight to the review."""
    assert ctx.person is not None
    state = DraftState(form=form.name, answers=answers or {}, meta=meta or {})
    if form.sensitive:
        hygiene.remember(state.meta, ctx.event, ctx.now)
    draft = await create_draft(
        ctx.session, ctx.services.keyring, ctx.person.id, state,
        now=ctx.now, expires_at=expiry(ctx, form), sensitive=form.sensitive,
    )
    if answers:
        await _show_review(ctx, form, draft)
    else:
        first = path(form, state.answers)[0]
        await _ask(ctx, form, draft, first)
    _save(ctx, form, draft)


async def current_draft(ctx: Ctx) -> tuple[Form, OpenDraft] | None:
    assert ctx.person is not None
    draft = await load_draft(ctx.session, ctx.services.keyring, ctx.person.id)
    if draft is None:
        return None
    form = FORMS.get(draft.state.form)
    if form is None:  # a form that no longer exists: nothing can finish it
        await discard_draft(ctx.session, ctx.person.id, keyring=ctx.services.keyring)
        return None
    return form, draft


def waiting_step(form: Form, draft: OpenDraft):
    """The step whose answer the draft waits for; None on the review or a resume offer."""
    if draft.state.meta.get("offer") or draft.state.mode == "review":
        return None
    steps, i = _position(form, draft)
    return steps[i].step if i is not None else None


def is_current_button(ctx: Ctx, form: Form, draft: OpenDraft) -> bool:
    return bool(ctx.event.choice) and ctx.event.choice.startswith(f"f{draft.row.seq}:")


def is_danger_answer(ctx: Ctx, form: Form, draft: OpenDraft) -> bool:
    """An answer to the question that opens the urgent path: it is never throttled."""
    if form.on_emergency is None or draft.state.meta.get("offer") or draft.state.cursor != "danger":
        return False
    return ctx.event.kind == "text" or is_current_button(ctx, form, draft)


async def _discard(ctx: Ctx) -> None:
    await discard_draft(ctx.session, ctx.person.id, keyring=ctx.services.keyring)


async def start_first(ctx: Ctx, form: Form, *, intro: str | None = None) -> None:
    """Start `form` now, whatever else is open: another form is set aside (paused) and offered
    again afterwards; the same form already open goes on where it was. The urgent path."""
    found = await current_draft(ctx)
    if found is not None and found[0].name == form.name:
        other, draft = found
        draft.state.meta.pop("offer", None)
        if intro:
            ctx.say(intro)
        ctx.say(ctx.t("You are already filling in this form. Here is where you are:"))
        await reask(ctx, other, draft)
        _save(ctx, other, draft)
        return
    if found is not None:
        other, draft = found
        older = await load_draft(ctx.session, ctx.services.keyring, ctx.person.id, PAUSED)
        if older is not None and older.state.form in FORMS:
            ctx.say(ctx.t("The older paused draft ({form}) has been discarded.", form=ctx.t(FORMS[older.state.form].title)))
        draft.state.meta.pop("offer", None)
        _save(ctx, other, draft)
        await pause_draft(ctx.session, ctx.services.keyring, draft)
        ctx.say(ctx.t("Your draft “{form}” is kept, paused. When you have finished, I will offer to continue it.",
                      form=ctx.t(other.title)))
    if intro:
        ctx.say(intro)
    await start(ctx, form)


async def resume_paused(ctx: Ctx) -> bool:
    """After a form ends: the draft set aside comes back, as a question. False when there is none."""
    draft = await unpause_draft(ctx.session, ctx.services.keyring, ctx.person.id)
    if draft is None:
        return False
    form = FORMS.get(draft.state.form)
    if form is None:
        await _discard(ctx)
        return False
    await offer_resume(ctx, form, draft, paused=True)
    return True


async def on_emergency(ctx: Ctx, found) -> None:
    """An emergency word: inside a form that handles it (the case form), that form marks its case
    urgent; anywhere else, the case form starts now at its danger question, other drafts kept."""
    from handlers import urgent
    from handlers.registry import COMMANDS, may_use

    case_form = next((f for f in FORMS.values() if f.on_emergency is not None), None)
    if found is not None and found[0].on_emergency is not None:
        form, draft = found
        draft.state.meta.pop("offer", None)
        if await form.on_emergency(ctx, draft.state.answers):
            await _after_emergency(ctx, form, draft)
            return
    cmd = COMMANDS.get(case_form.command) if case_form else None
    if case_form is None or cmd is None or not may_use(ctx.person.roles, cmd):
        urgent.numbers_only(ctx)
        return
    await start_first(ctx, case_form, intro=urgent.numbers_to_call(ctx))


async def _after_emergency(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    """The case is urgent now: ask what the urgent path asks first (the phone), else go on."""
    steps = path(form, draft.state.answers)
    pending = next((p for p in steps if p.step.key == "phone" and not answered(draft.state.answers, p)), None)
    if pending is not None:
        draft.state.mode = "edit"  # after it, back to the first question not answered yet
        await _ask(ctx, form, draft, pending)
    else:
        await reask(ctx, form, draft)
    _save(ctx, form, draft)


def _save(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    save_draft(draft, ctx.services.keyring, now=ctx.now, expires_at=expiry(ctx, form))


def _position(form: Form, draft: OpenDraft) -> tuple[list[Position], int | None]:
    steps = path(form, draft.state.answers)
    for i, pos in enumerate(steps):
        if pos.address == draft.state.cursor:
            return steps, i
    return steps, None


# ---- asking -----------------------------------------------------------------------------


def _label(ctx: Ctx, msgid: str) -> str:
    return ctx.t(msgid)


def _group_label(ctx: Ctx, form: Form, pos: Position, answers: Answers | None = None) -> str:
    group = next(g for g in form.items if isinstance(g, Group) and g.key == pos.group)
    label = (group.label_for(answers) if group.label_for and answers is not None else None) or group.item_label
    return ctx.t(label, n=(pos.index or 0) + 1)


def _question_tag(draft: OpenDraft) -> str:
    return f"q{draft.row.id}:{draft.row.seq}"


def _question_text(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position) -> str:
    place = progress(form, path(form, draft.state.answers), pos.address)
    number, total = (place.number, place.total) if place else (1, 1)
    head = ctx.t("{form} · Step {i}/{n}", form=ctx.t(form.title), i=number, n=total)
    lines = [head]
    if place is not None and place.section:
        lines.append(ctx.t(place.section))
    if pos.group is not None:
        lines.append(_group_label(ctx, form, pos, draft.state.answers))
    if pos.step.warning:
        lines.append(ctx.t(pos.step.warning))
    lines.append(ctx.t(pos.step.prompt))
    current = get_answer(draft.state.answers, pos)
    if draft.state.mode == "edit" and current is not ... and not KINDS[pos.step.kind].gathers:
        lines.append(ctx.t("Now: {value}", value=display(ctx, form, pos, current)))
    if KINDS[pos.step.kind].photos and not ctx.caps.photos:
        lines.append(ctx.t("Photos cannot be sent on this channel: type “bỏ qua” to go on without them."))
    if KINDS[pos.step.kind].photos:
        have = len(draft.state.meta.get("pending", {}).get("items", []))
        lines.append(ctx.t("Photos so far: {n}/{max}", n=have, max=pos.step.max_items))
        if ctx.caps.photos:  # how to end it, in this chat's terms
            lines.append(ctx.t("When you have sent them, press Done.") if ctx.caps.buttons
                         else ctx.t("When you have sent them, type xong."))
    if KINDS[pos.step.kind].toggles:
        lines.append(ctx.t("Then press Done.") if ctx.caps.toggles
                     else ctx.t("Type the numbers to choose or unchoose (e.g. 1 3), then type xong or 0."))
    return "\n".join(lines)


def _buttons(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position) -> list[Choice]:
    seq = draft.row.seq
    env = FormEnv(ctx)
    step = pos.step
    out: list[Choice] = []
    kind = KINDS[step.kind]
    if kind.toggles:
        picked = set(draft.state.meta.get("pending", {}).get("items", []))
        for i, o in enumerate(step.options_for(env)):
            out.append(Choice(_label(ctx, o.label), f"f{seq}:t{i}", selected=o.code in picked))
    elif kind.options:
        out += [Choice(_label(ctx, o.label), f"f{seq}:o{i}") for i, o in enumerate(step.options_for(env))]
    if kind.gathers:  # "0. Xong" numbered on plain channels where there is a list to toggle
        out.append(Choice(ctx.t("Done"), f"f{seq}:d", control=True, keyword=ctx.t("done"),
                          shortcut="0" if kind.toggles else ""))
    out += [
        Choice(_label(ctx, o.label), f"f{seq}:x{i}", control=True, keyword=_label(ctx, o.label))
        for i, o in enumerate(step.extra)
    ]
    steps, i = _position(form, draft)
    if (i or 0) > 0 or draft.state.mode == "edit":
        out.append(Choice(ctx.t("Back"), f"f{seq}:b", control=True, keyword=ctx.t("back")))
    if step.optional:
        out.append(Choice(ctx.t("Skip"), f"f{seq}:s", control=True, keyword=ctx.t("skip")))
    out.append(Choice(ctx.t("Cancel"), f"f{seq}:c", control=True, keyword=ctx.t("cancel")))
    return out


async def _ask(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position, *, bump: bool = True) -> None:
    if bump:
        draft.bump_seq()
    draft.state.cursor = pos.address
    if draft.state.mode == "review":
        draft.state.mode = "ask"
    if KINDS[pos.step.kind].gathers:
        current = get_answer(draft.state.answers, pos, None)
        if draft.state.meta.get("pending", {}).get("address") != pos.address:
            items = list(current) if isinstance(current, list) else []
            draft.state.meta["pending"] = {"address": pos.address, "items": items}
    else:
        draft.state.meta.pop("pending", None)
    text = _question_text(ctx, form, draft, pos)
    kind = KINDS[pos.step.kind]
    columns = 2 if kind.options and not kind.toggles and len(pos.step.options_for(FormEnv(ctx))) > 6 else 1
    ctx.say(
        text,
        _buttons(ctx, form, draft, pos),
        tag=_question_tag(draft),
        columns=columns,
        ask_contact=kind.contact,
    )


async def reask(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    if draft.state.mode == "review" or draft.state.cursor is None:
        await _show_review(ctx, form, draft)
        return
    steps, i = _position(form, draft)
    pos = steps[i] if i is not None else steps[0]
    await _ask(ctx, form, draft, pos)


def _close_question(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position, value: Any) -> None:
    """Where buttons were pressed, the old question loses its buttons and shows the answer."""
    text = _question_text(ctx, form, draft, pos) + "\n→ " + display(ctx, form, pos, value)
    ctx.say(text, tag=_question_tag(draft), edit=True)


# ---- showing answers --------------------------------------------------------------------


def display(ctx: Ctx, form: Form, pos: Position, value: Any) -> str:
    step = pos.step
    if value is SKIPPED or value is ...:
        return "—"
    extras = {o.code: o for o in step.extra}
    if isinstance(value, str) and value in extras:
        return ctx.t(extras[value].label)
    return KINDS[step.kind].show(ctx, step, value)


async def _show_review(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    draft.bump_seq()
    draft.state.mode = "review"
    draft.state.cursor = None
    draft.state.meta.pop("pending", None)
    seq = draft.row.seq
    lines = ["<b>" + html.escape(ctx.t("Review: {form}", form=ctx.t(form.title))) + "</b>"]
    if form.about is not None and (about := await form.about(ctx, draft.state.meta)):
        lines.append(html.escape(about))
    steps = path(form, draft.state.answers)
    for n, pos in enumerate(steps, 1):
        label = ctx.t(pos.step.review_label)
        if pos.group is not None:
            label = f"{_group_label(ctx, form, pos, draft.state.answers)} · {label}"
        value = display(ctx, form, pos, get_answer(draft.state.answers, pos, SKIPPED))
        lines.append(f"{n}. {html.escape(label)}: {html.escape(value)}")
    lines.append("")
    lines.append(html.escape(ctx.t("Nothing is saved until you confirm. To change an answer, choose its number.")))
    buttons = [Choice(f"✏️ {n}", f"f{seq}:e{n}", control=True) for n in range(1, len(steps) + 1)]
    buttons.append(Choice(ctx.t("Confirm"), f"f{seq}:ok", control=True, keyword=ctx.t("confirm")))
    buttons.append(Choice(ctx.t("Cancel"), f"f{seq}:c", control=True, keyword=ctx.t("cancel")))
    ctx.say("\n".join(lines), buttons, columns=5, html=True, tag=_question_tag(draft))


# ---- answering --------------------------------------------------------------------------


async def _advance(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position) -> None:
    steps = path(form, draft.state.answers)
    if draft.state.mode == "edit":
        nxt = next((p for p in steps if not answered(draft.state.answers, p)), None)
        if nxt is None and (broken := _broken_check(ctx, form, draft)) is not None:
            # The edit broke a cross-check of another answer (a new total under men + women): that
            # answer is asked again now, not only when the person confirms.
            nxt, error = broken
            ctx.say(ctx.t(error[0], **error[1]))
    else:
        idx = next((i for i, p in enumerate(steps) if p.address == pos.address), len(steps) - 1)
        nxt = steps[idx + 1] if idx + 1 < len(steps) else None
    if nxt is None:
        await _show_review(ctx, form, draft)
    else:
        await _ask(ctx, form, draft, nxt)


async def _accept(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position, value: Any, *, pressed: bool,
                  confirmed: bool = False) -> None:
    error = None
    if pos.step.check is not None and value is not SKIPPED:
        error = pos.step.check(value, scope(draft.state.answers, pos.group, pos.index), FormEnv(ctx))
    if error is not None:
        msgid, params = error
        ctx.say(ctx.t(msgid, **params))
        await _ask(ctx, form, draft, pos)
        return
    if not confirmed and _unlikely(pos, value):
        _ask_confirmation(ctx, draft, pos, value)
        return
    if pressed:
        _close_question(ctx, form, draft, pos, value)
    set_answer(draft.state.answers, pos, value)
    if pos.step.on_answer is not None:
        await pos.step.on_answer(ctx, draft.state.answers, value)
    if form.on_progress is not None:
        await form.on_progress(ctx, draft.state.answers)
    await _advance(ctx, form, draft, pos)


# ---- "is this right?" after a very large number (Step.confirm_above) ------------------------
# The number waits in meta["confirm"] for one event: yes, or the same number again, keeps it; no
# asks the question again; anything else is handled as usual and the number is forgotten.


def _unlikely(pos: Position, value: Any) -> bool:
    limit = pos.step.confirm_above
    return bool(limit) and isinstance(value, int) and not isinstance(value, bool) and value > limit


def _ask_confirmation(ctx: Ctx, draft: OpenDraft, pos: Position, value: int) -> None:
    draft.bump_seq()
    seq = draft.row.seq
    draft.state.meta["confirm"] = {"address": pos.address, "value": value}
    ctx.say(
        ctx.t(pos.step.confirm, n=number(ctx.lang, value)),
        [Choice(ctx.t("Yes"), f"f{seq}:vy", control=True, keyword=ctx.t("Yes")),
         Choice(ctx.t("No"), f"f{seq}:vn", control=True, keyword=ctx.t("No"))],
        tag=_question_tag(draft),
    )


async def _on_confirmation(ctx: Ctx, form: Form, draft: OpenDraft, pending: dict) -> bool:
    """The answer to "is this right?"; False when the event is not one (it is then handled as usual)."""
    steps, i = _position(form, draft)
    if i is None or draft.state.mode == "review" or steps[i].address != pending.get("address"):
        return False
    pos, ev = steps[i], ctx.event
    if ev.choice is not None:
        if ev.choice not in (f"f{draft.row.seq}:vy", f"f{draft.row.seq}:vn"):
            return False
        yes = ev.choice.endswith(":vy")
    elif ev.text is not None:
        yes = parsing.parse_yes_no(ev.text)
        if yes is None:
            again = kinds.typed(ctx, pos.step, ev.text, parsing.fold(ev.text))
            if not isinstance(again, parse.Value) or again.value != pending.get("value"):
                return False
            yes = True
    else:
        return False
    if yes:
        await _accept(ctx, form, draft, pos, pending["value"], pressed=ev.choice is not None, confirmed=True)
    else:
        await _ask(ctx, form, draft, pos)
    return True


async def _refuse(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position, message: str) -> None:
    ctx.say(message)
    await _ask(ctx, form, draft, pos)


async def handle(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    """Apply one event to the draft and answer it; the caller commits."""
    if form.sensitive:
        hygiene.remember(draft.state.meta, ctx.event, ctx.now)
    first = len(ctx.replies)
    contact = _contact_asked(ctx, form, draft)
    await _handle(ctx, form, draft)
    if contact is not None and (draft.closed or _contact_asked(ctx, form, draft) is None):
        _take_down_keyboard(ctx, form, draft, contact, first)
    if not draft.closed:
        _save(ctx, form, draft)


def _contact_asked(ctx: Ctx, form: Form, draft: OpenDraft, *, offer: bool = False) -> Position | None:
    """The question being answered, when it put up the messenger's share-my-phone keyboard (`offer`:
    even while the offer to go on with the draft is shown: the keyboard is still up behind it)."""
    if not ctx.caps.contact or draft.closed or draft.state.mode == "review" or (
            draft.state.meta.get("offer") and not offer):
        return None
    steps, i = _position(form, draft)
    return steps[i] if i is not None and KINDS[steps[i].step.kind].contact else None


def _take_down_keyboard(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position, first: int) -> None:
    """The phone question is behind the person: its keyboard goes. It stays up on Telegram until a
    message takes it down, and its buttons send plain words: a "Hủy" tapped there later cancelled
    whatever form was open by then. The first plain message of this answer takes it down; if every
    one has buttons of its own (a message cannot carry both), a short one goes first."""
    if any(r.remove_keyboard for r in ctx.replies[first:]):
        return  # taken down already (the form was cancelled from the question)
    for n in range(first, len(ctx.replies)):
        reply = ctx.replies[n]
        if not (reply.choices or reply.edit or reply.delete or reply.ask_contact or reply.photo or reply.file):
            ctx.replies[n] = dataclasses.replace(reply, remove_keyboard=True)
            return
    value = None if draft.closed else get_answer(draft.state.answers, pos, None)
    went_back = ctx.event.text is not None and parsing.fold(ctx.event.text) in BACK_WORDS
    if isinstance(value, str) and not went_back:
        text = ctx.t("Phone number noted: {phone}.", phone=parsing.display_phone(value))
    elif value is SKIPPED and not went_back:
        text = ctx.t("No phone number given.")
    else:  # gone back from it, or left another way
        text = ctx.t("The phone number keyboard is hidden.")
    ctx.replies.insert(first, Reply(text=text, remove_keyboard=True))


async def _handle(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    ev = ctx.event
    pending = draft.state.meta.pop("confirm", None)
    if pending and not draft.state.meta.get("offer") and await _on_confirmation(ctx, form, draft, pending):
        return
    if ev.choice is not None:
        await _on_button(ctx, form, draft, ev.choice)
        return
    if draft.state.meta.get("offer"):
        await _on_offer_text(ctx, form, draft)
        return
    steps, i = _position(form, draft)
    if draft.state.mode == "review" or i is None:
        await _on_review_text(ctx, form, draft)
        return
    pos = steps[i]
    if ev.kind == "photo":
        await _on_photo(ctx, form, draft, pos)
        return
    if ev.kind == "contact" and KINDS[pos.step.kind].contact:
        # A shared contact comes as the platform writes it ("84912345678"): the same E.164 as typed.
        phone = parsing.parse_phone(ev.contact_phone or "")
        await _accept(ctx, form, draft, pos, ev.contact_phone if isinstance(phone, parsing.ParseError) else phone,
                      pressed=False)
        return
    if ev.text is None:
        await _refuse(ctx, form, draft, pos, ctx.t("I can only read text here. Please type your answer."))
        return
    folded = parsing.fold(ev.text)
    if folded in CANCEL_WORDS:
        await cancel(ctx, draft)
    elif folded in RESUME_WORDS:
        await _ask(ctx, form, draft, pos)
    elif folded in BACK_WORDS:
        await _back(ctx, form, draft, pos)
    elif folded in HELP_WORDS or ev.text.strip() == "?":  # fold() drops a lone "?"
        await _help(ctx, form, draft, pos)
    elif folded in SKIP_WORDS and pos.step.optional:
        await _accept(ctx, form, draft, pos, SKIPPED, pressed=False)
    elif folded in DONE_WORDS and KINDS[pos.step.kind].gathers:
        await _done(ctx, form, draft, pos)
    elif KINDS[pos.step.kind].toggles:
        await _typed_toggles(ctx, form, draft, pos, ev.text)
    else:
        outcome = kinds.typed(ctx, pos.step, ev.text, folded)
        if isinstance(outcome, parse.Refusal):
            await _refuse(ctx, form, draft, pos, outcome.message)
        else:
            await _accept(ctx, form, draft, pos, outcome.value, pressed=False)


async def _on_button(ctx: Ctx, form: Form, draft: OpenDraft, data: str) -> None:
    head, _, action = data.partition(":")
    offer = draft.state.meta.get("offer")
    if head != f"f{draft.row.seq}":
        ctx.say(ctx.t("That question has already been answered. Here is where you are now:"))
        await (_offer_again(ctx, form, draft) if offer else reask(ctx, form, draft))
        return
    steps, i = _position(form, draft)
    if action == "c":
        await cancel(ctx, draft)
        return
    if action == "r":
        draft.state.meta.pop("offer", None)
        await reask(ctx, form, draft)
        return
    if offer:
        await _offer_again(ctx, form, draft)
        return
    if draft.state.mode == "review" or i is None:
        await _on_review_action(ctx, form, draft, action)
        return
    pos = steps[i]
    env = FormEnv(ctx)
    kind, arg = action[:1], action[1:]
    try:
        index = int(arg) if arg else None
    except ValueError:
        index = None
    options = pos.step.options_for(env)
    step_kind = KINDS[pos.step.kind]
    if kind == "o" and index is not None and index < len(options) and step_kind.options and not step_kind.toggles:
        await _accept(ctx, form, draft, pos, options[index].code, pressed=True)
    elif kind == "x" and index is not None and index < len(pos.step.extra):
        await _accept(ctx, form, draft, pos, parse.extra_value(ctx, pos.step, pos.step.extra[index].code), pressed=True)
    elif kind == "t" and index is not None and index < len(options) and step_kind.toggles:
        _toggle(draft.state.meta["pending"]["items"], options[index].code)
        ctx.say(_question_text(ctx, form, draft, pos), _buttons(ctx, form, draft, pos), tag=_question_tag(draft), edit=True)
    elif action == "d":
        await _done(ctx, form, draft, pos)
    elif action == "b":
        await _back(ctx, form, draft, pos)
    elif action == "s" and pos.step.optional:
        await _accept(ctx, form, draft, pos, SKIPPED, pressed=True)
    else:
        ctx.say(ctx.t("That button is not valid here."))
        await _ask(ctx, form, draft, pos)


def _toggle(pending: list, code: str) -> None:
    """Choose or unchoose; "none of these" (Không có, Chưa áp dụng, Chưa ai) and the others exclude
    each other, so a contradiction cannot be stored."""
    if code in pending:
        pending.remove(code)
        return
    if code in NONE_CODES:
        pending.clear()
    else:
        pending[:] = [c for c in pending if c not in NONE_CODES]
    pending.append(code)


_TRAILING_DONE = re.compile(r"(?:^|[\s,;.]+)(?:xong|done|het|0)[\s.!]*$", re.IGNORECASE)


async def _typed_toggles(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position, text: str) -> None:
    """Typed choices at a several-choice step toggle, like the buttons do; "xong" (alone, or at the
    end: "1 3 xong") ends the step. A number is never carried on to the next question."""
    plain = parsing.nfc(text)
    if parsing.fold(plain) in LIST_WORDS:  # the whole list again, on request
        await _ask(ctx, form, draft, pos)
        return
    done = bool(_TRAILING_DONE.search(parsing.fold(plain)))
    body = _strip_done(plain) if done else plain
    if body.strip():
        outcome = kinds.typed(ctx, pos.step, body, parsing.fold(body))
        if isinstance(outcome, parse.Refusal):
            await _refuse(ctx, form, draft, pos, outcome.message)
            return
        exclusive = [c for c in outcome.value if c in NONE_CODES]
        if exclusive and len(set(outcome.value)) > 1:
            # "1 3" where 3 is "Không có": one of them would be dropped without a word.
            label = next((o.label for o in pos.step.options_for(FormEnv(ctx)) if o.code == exclusive[0]), exclusive[0])
            await _refuse(ctx, form, draft, pos, ctx.t(
                "“{option}” cannot be chosen together with other answers. Type only the numbers that apply, or "
                "only the number of “{option}”.", option=ctx.t(label)))
            return
        pending = draft.state.meta["pending"]["items"]
        for code in outcome.value:
            _toggle(pending, code)
    if done:
        await _done(ctx, form, draft, pos)
        return
    if ctx.caps.monthly_quota:  # every message counts on this plan: one line, not the list again
        options = [o.code for o in pos.step.options_for(FormEnv(ctx))]
        chosen = [str(options.index(c) + 1) for c in draft.state.meta["pending"]["items"] if c in options]
        ctx.say(ctx.t("Chosen: {numbers}. Type other numbers to choose or unchoose, “xem” to see the list, or xong.",
                      numbers=", ".join(sorted(chosen, key=int))) if chosen else
                ctx.t("Nothing chosen yet. Type the numbers to choose, “xem” to see the list, or xong."))
        return
    await _ask(ctx, form, draft, pos)


def _strip_done(text: str) -> str:
    """"1 3 xong" -> "1 3"; works on the text as typed (tone marks and all)."""
    words = text.split()
    while words and parsing.fold(words[-1]) in ("xong", "done", "het", "0", ""):
        words.pop()
    return " ".join(words).rstrip(" ,;.")


async def _done(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position) -> None:
    items = list(draft.state.meta.get("pending", {}).get("items", []))
    if KINDS[pos.step.kind].toggles and not items:
        await _refuse(ctx, form, draft, pos, ctx.t("Choose at least one option, then press Done.") if ctx.caps.toggles
                      else ctx.t("Choose at least one option (type its number), then type xong."))
        return
    if KINDS[pos.step.kind].photos and not items:
        await _accept(ctx, form, draft, pos, SKIPPED, pressed=False)
        return
    await _accept(ctx, form, draft, pos, items, pressed=ctx.event.choice is not None)


async def _on_photo(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position) -> None:
    if not KINDS[pos.step.kind].photos:
        await _refuse(ctx, form, draft, pos, ctx.t("A photo is not expected here."))
        return
    pending = draft.state.meta["pending"]["items"]
    if len(pending) >= pos.step.max_items:
        await _refuse(ctx, form, draft, pos, ctx.t("You have already sent {max} photos.", max=pos.step.max_items))
        return
    stored = await photo_store.store_photo(ctx.session, ctx.person.id, ctx.event.photo, now=ctx.now)
    if stored is None:
        await _refuse(ctx, form, draft, pos, ctx.t("That file could not be read as a photo. Please send a JPEG or PNG photo."))
        return
    pending.append(stored)
    if len(pending) >= pos.step.max_items:
        await _accept(ctx, form, draft, pos, list(pending), pressed=False)
    else:
        ctx.say(ctx.t("Photo {n} received. Send another, or press Done.", n=len(pending)) if ctx.caps.buttons
                else ctx.t("Photo {n} received. Send another, or type xong.", n=len(pending)))
        await _ask(ctx, form, draft, pos)


async def _back(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position) -> None:
    if draft.state.mode == "edit":
        await _show_review(ctx, form, draft)
        return
    steps = path(form, draft.state.answers)
    idx = next((i for i, p in enumerate(steps) if p.address == pos.address), 0)
    if idx == 0:
        ctx.say(ctx.t("This is the first question."))
        await _ask(ctx, form, draft, pos)
        return
    await _ask(ctx, form, draft, steps[idx - 1])


async def _help(ctx: Ctx, form: Form, draft: OpenDraft, pos: Position) -> None:
    lines = []
    if pos.step.help:
        lines.append(ctx.t(pos.step.help))
    lines.append(ctx.t(KINDS[pos.step.kind].help_for(ctx.caps)))
    lines.append(ctx.t("You can always type: back, skip (for optional questions), cancel."))
    ctx.say("\n".join(lines))
    await _ask(ctx, form, draft, pos)


async def cancel(ctx: Ctx, draft: OpenDraft) -> None:
    """Typed or pressed inside the form, /huy, or "Hủy bản nháp" at the offer to go on with it."""
    form = FORMS.get(draft.state.form)
    first = len(ctx.replies)
    contact = _contact_asked(ctx, form, draft, offer=True) if form is not None else None
    await _discard(ctx)
    draft.closed = True
    if form is not None and form.sensitive:
        hygiene.remember(draft.state.meta, ctx.event, ctx.now)
        hygiene.cleanup(ctx, draft.state.meta)
    message = await form.on_cancel(ctx, draft.state.answers) if form is not None and form.on_cancel else None
    ctx.say(message or ctx.t("The draft has been cancelled. Nothing was saved."))
    if contact is not None:  # the share-my-phone keyboard goes with the form
        _take_down_keyboard(ctx, form, draft, contact, first)
    await _after_close(ctx)


async def _after_close(ctx: Ctx) -> None:
    """A form has ended: a draft set aside comes back as a question, else the menu."""
    from handlers.menu import main_menu

    if not await resume_paused(ctx):
        main_menu(ctx)


# ---- review -----------------------------------------------------------------------------


async def _on_review_action(ctx: Ctx, form: Form, draft: OpenDraft, action: str) -> None:
    if action == "ok":
        await _confirm(ctx, form, draft)
        return
    if action.startswith("e") and action[1:].isdigit():
        await _edit(ctx, form, draft, int(action[1:]))
        return
    ctx.say(ctx.t("That button is not valid here."))
    await _show_review(ctx, form, draft)


async def _on_review_text(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    folded = parsing.fold(ctx.event.text or "")
    if folded in CONFIRM_WORDS:
        await _confirm(ctx, form, draft)
    elif folded in CANCEL_WORDS:
        await cancel(ctx, draft)
    elif folded in RESUME_WORDS:
        await _show_review(ctx, form, draft)
    else:
        n = parse.edit_number(folded)
        if n is not None:
            await _edit(ctx, form, draft, n)
        else:
            ctx.say(ctx.t("Please confirm, cancel, or choose the number of an answer to change it."))
            await _show_review(ctx, form, draft)


async def _edit(ctx: Ctx, form: Form, draft: OpenDraft, n: int) -> None:
    steps = path(form, draft.state.answers)
    if not 1 <= n <= len(steps):
        ctx.say(ctx.t("There is no answer number {n}.", n=n))
        await _show_review(ctx, form, draft)
        return
    draft.state.mode = "edit"
    await _ask(ctx, form, draft, steps[n - 1])


def _broken_check(ctx: Ctx, form: Form, draft: OpenDraft):
    """The first answer on the path whose cross-check fails now, with its error; None if all hold."""
    for pos in path(form, draft.state.answers):
        value = get_answer(draft.state.answers, pos)
        if pos.step.check is None or value is SKIPPED:
            continue
        error = pos.step.check(value, scope(draft.state.answers, pos.group, pos.index), FormEnv(ctx))
        if error is not None:
            return pos, error
    return None


async def _confirm(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    missing = [p for p in path(form, draft.state.answers) if not answered(draft.state.answers, p)]
    if missing:
        draft.state.mode = "edit"
        await _ask(ctx, form, draft, missing[0])
        return
    # An edit may have broken a cross-check of a later answer (a new total, say): ask that one again.
    # (Edits are checked as they are made; a draft an earlier release kept may still hold one.)
    if (broken := _broken_check(ctx, form, draft)) is not None:
        pos, error = broken
        ctx.say(ctx.t(error[0], **error[1]))
        draft.state.mode = "edit"
        await _ask(ctx, form, draft, pos)
        return
    text = await form.submit(ctx, on_path(form, draft.state.answers), draft.state.meta)
    await _discard(ctx)
    draft.closed = True
    if form.sensitive:
        hygiene.cleanup(ctx, draft.state.meta)
    ctx.say(text)
    await _after_close(ctx)


async def offer_resume(ctx: Ctx, form: Form, draft: OpenDraft, *, paused: bool = False) -> None:
    """A real question: until it is answered (continue or discard), nothing goes to the form."""
    draft.state.meta["offer"] = True
    draft.bump_seq()
    seq = draft.row.seq
    if paused:
        text = ctx.t("Your draft “{form}” was kept while you reported. Continue it now?", form=ctx.t(form.title))
    else:
        text = ctx.t("You have an unfinished draft: {form}, at {where}.", form=ctx.t(form.title),
                     where=_offer_where(ctx, form, draft))
    ctx.say(
        text,
        [Choice(ctx.t("Continue"), f"f{seq}:r"), Choice(ctx.t("Discard draft"), f"f{seq}:c")],
        tag=_question_tag(draft),
    )
    _save(ctx, form, draft)


def _offer_where(ctx: Ctx, form: Form, draft: OpenDraft) -> str:
    steps, i = _position(form, draft)
    if draft.state.mode == "review" or i is None:
        return ctx.t("the review")
    pos = steps[i]
    place = progress(form, steps, pos.address)
    return ctx.t("step {i}/{n}", i=place.number if place else 1, n=place.total if place else 1)


async def _offer_again(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    ctx.say(ctx.t("First, please answer about your draft: 1 to continue it, 2 to discard it."))
    await offer_resume(ctx, form, draft)


async def _on_offer_text(ctx: Ctx, form: Form, draft: OpenDraft) -> None:
    folded = parsing.fold(ctx.event.text or "")
    if folded in RESUME_WORDS or folded in ("1", "co", "yes", "ok"):
        draft.state.meta.pop("offer", None)
        await reask(ctx, form, draft)
    elif folded in CANCEL_WORDS or folded in ("2", "khong", "no", "huy ban nhap", "bo"):
        await cancel(ctx, draft)
    else:
        await _offer_again(ctx, form, draft)

