"""Where an event goes: enrolment for strangers, then commands, buttons and the open draft."""

from __future__ import annotations

from datetime import timedelta

from handlers import enrolment, invites, menu, myreports, parsing
from handlers.context import Ctx
from handlers.forms import engine
from handlers.forms.case import CASE
from handlers.forms.outreach import OUTREACH

RESUME_AFTER = timedelta(minutes=30)  # a person coming back later is asked before going on
FORM_COMMANDS = {"baocao": OUTREACH, "baotin": CASE}
COMMAND_NAMES = {c for c, _, _ in menu.COMMANDS} | {"start"}


def parse_command(text: str | None) -> tuple[str, str] | None:
    """'/baocao', '/baocao@bot', or the bare word on channels without a command menu."""
    if not text:
        return None
    head, _, arg = text.strip().partition(" ")
    name = head[1:] if head.startswith("/") else head
    name = parsing.fold(name.split("@", 1)[0])
    if name in COMMAND_NAMES and (head.startswith("/") or not arg):
        return name, arg.strip()
    return None


def allowed(ctx: Ctx, command: str) -> bool:
    for name, _, roles in menu.COMMANDS:
        if name == command:
            return roles is None or bool(ctx.person.roles & roles)
    return command == "start"


async def handle(ctx: Ctx) -> None:
    ev = ctx.event
    if ev.kind == "group":
        ctx.say(ctx.t("Please write to me in a private chat. Reports are never handled in groups."))
        return
    if ctx.person is None or not ctx.person.active:
        await enrolment.handle_stranger(ctx)
        return
    command = parse_command(ev.text) if ev.kind == "text" else None
    if command is None and ev.choice and ev.choice.startswith("m:"):
        command = (ev.choice[2:], "")
    state = await enrolment.chat_state(ctx)
    if state is not None and state.awaiting == enrolment.AWAIT_PHONE and command is None:
        await enrolment.handle_phone(ctx)
        return
    if command is not None:
        await run_command(ctx, *command)
        return
    if ev.kind == "edited":
        ctx.say(ctx.t("Edited messages are not read. Please send the answer again as a new message."))
        return
    found = await engine.current_draft(ctx)
    if ev.choice is not None and not ev.choice.startswith("f"):
        await on_button(ctx, ev.choice, found)
        return
    if found is None:
        await _no_draft(ctx)
        return
    form, draft = found
    idle = ctx.now - draft.row.updated_at
    if ev.choice is None and idle > RESUME_AFTER:
        await engine.offer_resume(ctx, form, draft)
        return
    await engine.handle(ctx, form, draft)


async def _no_draft(ctx: Ctx) -> None:
    ev = ctx.event
    if ev.choice is not None:
        ctx.say(ctx.t("That form has already ended."))
    elif ev.kind in ("sticker", "unsupported", "photo", "location", "contact"):
        ctx.say(ctx.t("Thank you. I can only act on the menu below."))
    else:
        ctx.say(ctx.t("I did not understand that."))
    menu.main_menu(ctx)


async def on_button(ctx: Ctx, data: str, found) -> None:
    if data.startswith("l:"):
        await menu.set_language(ctx, data[2:])
    elif data.startswith(("r:", "h:")):
        if found is not None:
            await engine.offer_resume(ctx, *found)
        elif data.startswith("r:"):
            await myreports.correct(ctx, data[2:])
        else:
            await myreports.follow_up(ctx, data[2:])
    elif data.startswith("i:") and "admin" in ctx.person.roles:
        await invites.on_choice(ctx, data)
    elif data == "p:skip":
        menu.main_menu(ctx)
    else:
        ctx.say(ctx.t("That button is not valid here."))
        if found is not None:
            await engine.reask(ctx, *found)
        else:
            menu.main_menu(ctx)


async def run_command(ctx: Ctx, name: str, arg: str) -> None:
    if not allowed(ctx, name):
        ctx.say(ctx.t("This command is not available for your role."))
        return
    if name in ("start", *FORM_COMMANDS):
        await enrolment.set_chat_state(ctx, None)
    found = await engine.current_draft(ctx)
    if name == "huy":
        if found is None:
            ctx.say(ctx.t("There is nothing to cancel."))
            menu.main_menu(ctx)
        else:
            await engine.cancel(ctx, found[1])
    elif name in FORM_COMMANDS:
        if found is not None:
            await engine.offer_resume(ctx, *found)
        else:
            await engine.start(ctx, FORM_COMMANDS[name])
    elif name == "start":
        if found is not None:
            await engine.offer_resume(ctx, *found)
        else:
            enrolment.greet(ctx)
    elif name == "trogiup":
        menu.show_help(ctx)
        if found is not None:
            await engine.reask(ctx, *found)
    elif name == "ngonngu":
        if arg in ("vi", "en"):
            await menu.set_language(ctx, arg)
        else:
            menu.ask_language(ctx)
    elif name == "cuatoi":
        if arg and found is not None:
            await engine.offer_resume(ctx, *found)
        elif arg.upper().startswith("HS-"):
            await myreports.follow_up(ctx, arg)
        elif arg:
            await myreports.correct(ctx, arg)
        else:
            await myreports.list_reports(ctx)
    elif name == "moi":
        invites.ask_role(ctx)
