"""The main menu, help, and the language switch."""

from __future__ import annotations

from sqlalchemy import update

from core.events import Choice
from core.i18n import N_
from handlers.context import Ctx
from storage.models import Person

ROLE_NAMES = {
    "reporter": N_("reporter"),
    "office": N_("culture-society office"),
    "police": N_("commune police"),
    "leader": N_("commune leader"),
    "admin": N_("administrator"),
    "province": N_("province officer"),
}
ORG_NAMES = {
    "village_head": N_("Village head"),
    "womens_union": N_("Women's Union"),
    "youth_union": N_("Youth Union"),
    "fatherland_front": N_("Fatherland Front"),
    "farmers_union": N_("Farmers' Union"),
    "veterans": N_("Veterans' Association"),
    "school": N_("School"),
    "health_station": N_("Health station"),
}

def commands_for(roles: frozenset[str]) -> list[tuple[str, str]]:
    from handlers.registry import commands_in_order, may_use

    return [(c.name, c.description) for c in commands_in_order() if c.name != "start" and may_use(roles, c)]


def main_menu(ctx: Ctx, intro: str | None = None, *, set_commands: bool = False) -> None:
    """The menu as buttons; with set_commands, also the chat's command menu (after enrolment or a
    change of language: not every time, it costs a call to the platform)."""
    from handlers.registry import commands_in_order, may_use

    roles = ctx.person.roles if ctx.person else frozenset()
    buttons = [
        # Numbered on channels without buttons: "2" opens the second (handlers/chatlists.py).
        Choice(ctx.t(c.description), f"m:{c.name}", keyword=f"/{c.name}")
        for c in commands_in_order()
        if c.in_menu and may_use(roles, c)
    ]
    ctx.say(intro or ctx.t("What would you like to do?"), buttons,
            commands=menu_commands(ctx) if set_commands else None)


def menu_commands(ctx: Ctx) -> tuple[tuple[str, str], ...]:
    """The chat's command menu (Telegram shows it beside the text box), by role and language."""
    roles = ctx.person.roles if ctx.person else frozenset()
    return tuple((cmd, ctx.t(desc)) for cmd, desc in commands_for(roles))


def ask_language(ctx: Ctx) -> None:
    ctx.say(
        ctx.t("Choose your language:"),
        [
            Choice("Tiếng Việt", "l:vi", keyword="/ngonngu vi"),  # numbered where there are no buttons
            Choice("English", "l:en", keyword="/ngonngu en"),
        ],
    )


async def set_language(ctx: Ctx, lang: str) -> None:
    if lang not in ("vi", "en") or ctx.person is None:
        ask_language(ctx)
        return
    await ctx.session.execute(update(Person).where(Person.id == ctx.person.id).values(lang=lang))
    ctx.lang = lang
    ctx.say(ctx.t("The language has been changed."))
    main_menu(ctx, set_commands=True)
