"""Where an event goes: enrolment for strangers, then commands, buttons and the open draft."""

from __future__ import annotations

from datetime import timedelta

from handlers import enrolment, features, menu, parsing, safety  # noqa: F401 - features registers everything
from handlers.context import Ctx
from handlers.forms import engine
from handlers.permissions import allows, refuse
from handlers.registry import COMMANDS, button_for, may_use

RESUME_AFTER = timedelta(minutes=30)  # a person coming back later is asked before going on


def parse_command(text: str | None) -> tuple[str, str] | None:
    """'/baocao', '/baocao@bot', or the bare word on channels without a command menu."""
    if not text:
        return None
    head, _, arg = text.strip().partition(" ")
    name = head[1:] if head.startswith("/") else head
    name = parsing.fold(name.split("@", 1)[0])
    if name in COMMANDS and (head.startswith("/") or not arg or COMMANDS[name].bare):
        return name, arg.strip()
    return None


async def handle(ctx: Ctx) -> None:
    ev = ctx.event
    if await safety.flooding(ctx):
        return
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
    if ev.choice is not None and not ev.choice.startswith("f"):
        await on_button(ctx, ev.choice)
        return
    found = await engine.current_draft(ctx)
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


async def on_button(ctx: Ctx, data: str) -> None:
    found = button_for(data)
    if found is not None:
        button, needs = found
        if not allows(ctx.person.roles, needs):  # a button may do only what its command may
            refuse(ctx, f"button {button.key(data)}")
            return
        await button.run(ctx, data)
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
        refuse(ctx, f"/{name[:32]}")
        return
    await cmd.run(ctx, arg)
