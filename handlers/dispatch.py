"""Where an event goes. The urgent path first (case requests, emergency words, the danger
answer: never throttled, never behind another form), then the flood guard, enrolment for
strangers, commands, the chat's numbered list, buttons and the open draft."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from handlers import chatlists, enrolment, features, menu, parsing, safety, urgent  # noqa: F401 - features registers everything
from handlers.context import Ctx
from handlers.forms import engine
from handlers.forms.steps import Kind
from handlers.permissions import allows, refuse
from handlers.registry import COMMANDS, Press, button_for, may_use
from storage import reports

RESUME_AFTER = timedelta(minutes=30)  # a person coming back later is asked before going on
JUST_SAVED = timedelta(minutes=30)  # a confirm word this soon after a save is answered with what was saved
CASE_COMMAND = "baotin"


def parse_command(text: str | None, *, bare: bool = True) -> tuple[str, str] | None:
    """'/baocao', '/baocao@bot', 'bao cao', 'thon thon 3', 'vuviec HS-2026-0001'.

    Without the slash (channels without a command menu, people who type words) only when
    `bare`: while a question waits, typed text is its answer."""
    if not text:
        return None
    stripped = text.strip()
    if bare and stripped in ("?", "？"):  # outside a form, a lone "?" asks for help (inside, the form explains)
        return "trogiup", ""
    slash = stripped.startswith("/")
    words = stripped[1:].split() if slash else stripped.split()
    if not words:
        return None
    words[0] = words[0].split("@", 1)[0]
    # A command name typed as one word or two ("bao cao", "tro giup"), without tone marks.
    for n in (1, 2, 3):
        if n > len(words):
            break
        name = "".join(parsing.fold(w) for w in words[:n]).replace(" ", "")
        if name in COMMANDS:
            arg = " ".join(words[n:])
            # Alert actions ("NHAN HS-2026-0001") are unmistakable even while a question waits.
            if slash or bare or (COMMANDS[name].bare and arg):
                return name, arg
            return None
    return None


def is_case_request(text: str | None) -> bool:
    command = parse_command(text, bare=True)
    return command is not None and command[0] == CASE_COMMAND


async def handle(ctx: Ctx) -> None:
    await _handle(ctx)
    await chatlists.remember(ctx)


async def _handle(ctx: Ctx) -> None:
    ev = ctx.event
    if ev.kind == "group":
        if urgent.is_emergency(ev.text, free_text=False):  # "cứu" in a group: the numbers at once, never throttled
            ctx.say(urgent.numbers_to_call(ctx) + "\n\n" + ctx.t("Please write to me in a private chat. Reports are "
                                                                  "never handled in groups."))
        elif not await safety.flooding(ctx):
            ctx.say(ctx.t("Please write to me in a private chat. Reports are never handled in groups."))
        return
    stranger = ctx.person is None or not ctx.person.active
    found = None if stranger else await engine.current_draft(ctx)
    text = ev.text if ev.kind == "text" else None
    asking = engine.waiting_step(*found) if found else None
    emergency = urgent.is_emergency(text, free_text=asking is not None and asking.kind == Kind.TEXT)

    command = parse_command(text, bare=found is None)
    if command is None and found is not None and is_case_request(text):
        command = (CASE_COMMAND, "")
    if command is None and ev.choice and ev.choice.startswith("m:"):
        command = (ev.choice[2:], "")
    listed = None
    if command is None and not emergency and text and not stranger:
        listed = await chatlists.resolve(ctx, text, form_waiting=found is not None)
        if listed and listed.startswith("m:"):
            command, listed = (listed[2:], ""), None

    is_urgent = emergency or (command is not None and command[0] == CASE_COMMAND) or (
        found is not None and engine.is_danger_answer(ctx, *found))
    if not is_urgent:
        in_conversation = found is not None and (text is not None or engine.is_current_button(ctx, *found))
        if await safety.flooding(ctx, relaxed=in_conversation or listed not in (None, chatlists.STALE)):
            return

    if stranger:
        if emergency:
            urgent.numbers_only(ctx)
        await enrolment.handle_stranger(ctx)
        return
    if emergency:
        await enrolment.set_chat_state(ctx, None)  # a phone question left open gives way
        await engine.on_emergency(ctx, found)
        return
    state = await enrolment.chat_state(ctx) if found is None else None
    if state is not None and state.awaiting == enrolment.AWAIT_PHONE and command is None and listed is None:
        await enrolment.handle_phone(ctx)
        return
    if command is not None:
        await run_command(ctx, *command)
        return
    if ev.kind == "edited":
        ctx.say(ctx.t("Edited messages are not read. Please send the answer again as a new message."))
        return
    if listed == chatlists.STALE:
        await chatlists.show_again(ctx)
        return
    if listed is not None:
        ctx.event = replace(ev, choice=listed, kind="choice")
        await _on_choice(ctx, found)
        return
    if ev.choice is not None and not ev.choice.startswith("f"):
        await on_button(ctx, ev.choice)
        return
    await _to_draft(ctx, found)


async def _on_choice(ctx: Ctx, found) -> None:
    if ctx.event.choice.startswith("f"):
        await _to_draft(ctx, found)
    else:
        await on_button(ctx, ctx.event.choice)


async def _to_draft(ctx: Ctx, found) -> None:
    if found is None:
        await _no_draft(ctx)
        return
    form, draft = found
    idle = ctx.now - draft.row.updated_at
    if ctx.event.choice is None and idle > RESUME_AFTER and not draft.state.meta.get("offer"):
        await engine.offer_resume(ctx, form, draft)
        return
    await engine.handle(ctx, form, draft)


async def _no_draft(ctx: Ctx) -> None:
    ev = ctx.event
    if ev.choice is not None:
        ctx.say(ctx.t("That form has already ended."))
    elif ev.kind in ("sticker", "unsupported", "photo", "location", "contact"):
        ctx.say(ctx.t("Thank you. I can only act on the menu below."))
    elif ev.text and engine.is_confirm_word(ev.text) and (
            ref := await reports.just_saved(ctx.session, ctx.person.id, ctx.now - JUST_SAVED)) is not None:
        # "xác nhận" sent twice (or once more to be sure): what was saved, not "I did not understand".
        ctx.say(ctx.t("{ref} has already been saved. Nothing more is needed.", ref=ref))
    else:
        ctx.say(ctx.t("I did not understand that."))
    menu.main_menu(ctx)


async def on_button(ctx: Ctx, data: str) -> None:
    press = Press.parse(data)  # forged data (too long, not ASCII, no prefix) is no button of ours
    found = button_for(press)
    if found is not None:
        button, needs = found
        if not allows(ctx.person.roles, needs):  # a button may do only what its command may
            refuse(ctx, f"button {button.key(press)}")
            return
        await button.run(ctx, press)
        return
    ctx.say(ctx.t("That button is not valid here."))
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.reask(ctx, *found)
    else:
        menu.main_menu(ctx)


async def run_command(ctx: Ctx, name: str, arg: str) -> None:
    cmd = COMMANDS.get(name)
    if cmd is None or not may_use(ctx.person.roles, cmd):
        if name == CASE_COMMAND:  # someone who cannot report a case still gets the numbers at once
            urgent.numbers_only(ctx)
        refuse(ctx, f"/{name[:32]}")
        return
    await cmd.run(ctx, arg)
