"""The commands every enrolled person has, and the reporting ones."""

from __future__ import annotations

from core.i18n import N_
from handlers import chatlists, enrolment, invites, menu, myreports, role_help
from handlers.context import Ctx
from handlers.forms import engine
from handlers.forms.case import CASE
from handlers.forms.outreach import OUTREACH
from handlers.registry import Press, button, command

CASE_REPORTERS = ("reporter", "office", "police", "leader")


async def start_form(ctx: Ctx, form) -> None:
    """What a command that opens a form does: a draft already open is offered first, a paused one
    resumed, else the form starts."""
    await enrolment.set_chat_state(ctx, None)
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.offer_resume(ctx, *found)
    elif not await engine.resume_paused(ctx):
        await engine.start(ctx, form)


@command("baocao", N_("Report an outreach session"), order=10)
async def report_outreach(ctx: Ctx, arg: str) -> None:
    await start_form(ctx, OUTREACH)


@command("baotin", N_("Report a case (hồ sơ)"), order=20)
async def report_case(ctx: Ctx, arg: str) -> None:
    """The urgent path: straight to the danger question, whatever else is open (it waits, paused)."""
    await enrolment.set_chat_state(ctx, None)
    note = None
    if not ctx.caps.delete:
        note = ctx.t("Note: on this channel the bot cannot delete messages. After sending, please delete this "
                     "conversation from your phone yourself.")
    await engine.start_first(ctx, CASE, intro=note)


@command("cuatoi", N_("My recent reports"), order=30)
async def my_reports(ctx: Ctx, arg: str) -> None:
    found = await engine.current_draft(ctx)
    if arg and found is not None:
        await engine.offer_resume(ctx, *found)
    elif arg.upper().startswith("HS-"):
        await myreports.follow_up(ctx, arg)
    elif arg:
        await myreports.correct(ctx, arg)
    else:
        await myreports.list_reports(ctx)


@command("moi", N_("Create an invite code"), order=80)
async def invite(ctx: Ctx, arg: str) -> None:
    invites.ask_role(ctx)


@command("huy", N_("Cancel the current form"), order=90, in_menu=False)
async def cancel(ctx: Ctx, arg: str) -> None:
    found = await engine.current_draft(ctx)
    if found is None:
        ctx.say(ctx.t("There is nothing to cancel."))
        menu.main_menu(ctx)
    else:
        await engine.cancel(ctx, found[1])


@command("ngonngu", N_("Language: Tiếng Việt / English"), order=95)
async def language(ctx: Ctx, arg: str) -> None:
    if arg in ("vi", "en"):
        await menu.set_language(ctx, arg)
    else:
        menu.ask_language(ctx)


@command("trogiup", N_("Help"), order=99)
async def help_(ctx: Ctx, arg: str) -> None:
    role_help.show_help(ctx)
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.reask(ctx, *found)
    elif not ctx.caps.buttons and not ctx.caps.monthly_quota:
        # A numbered list was showing: it again (its numbers mean the same either way; where every
        # message counts, the help alone).
        await chatlists.show_current(ctx)


@command("start", N_("Start, or enter an invite code"), order=0, in_menu=False)
async def start(ctx: Ctx, arg: str) -> None:
    await enrolment.set_chat_state(ctx, None)
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.offer_resume(ctx, *found)
    else:
        enrolment.greet(ctx)


@button("l", command="ngonngu")
async def language_pressed(ctx: Ctx, press: Press) -> None:
    await menu.set_language(ctx, press.arg)


@button("r", command="cuatoi")
async def correct_pressed(ctx: Ctx, press: Press) -> None:
    await _unless_draft(ctx, myreports.correct, press.arg, roles=("reporter",))


@button("h", command="cuatoi")
async def follow_up_pressed(ctx: Ctx, press: Press) -> None:
    await _unless_draft(ctx, myreports.follow_up, press.arg, roles=CASE_REPORTERS)


@button("i", command="moi")
async def invite_pressed(ctx: Ctx, press: Press) -> None:
    if "admin" not in ctx.person.roles:
        ctx.say(ctx.t("This command is not available for your role."))
        return
    await invites.on_choice(ctx, list(press.parts))


@button("p", command="start")  # the phone question's "Skip", outside it
async def phone_skip_pressed(ctx: Ctx, press: Press) -> None:
    menu.main_menu(ctx)


async def _unless_draft(ctx: Ctx, action, arg: str, roles) -> None:
    if not ctx.person.roles & set(roles):
        ctx.say(ctx.t("This command is not available for your role."))
        return
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.offer_resume(ctx, *found)
    else:
        await action(ctx, arg)
