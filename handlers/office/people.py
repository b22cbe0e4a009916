"""People and messages: /nguoidung lists who is enrolled, /thuhoi revokes someone, /thongbao sends
a notice to the reporters of the commune or of one village, through the outbox."""

from __future__ import annotations

from sqlalchemy import func, select

from core.events import Choice, Reply
from core.i18n import N_, translate
from handlers.context import Ctx
from handlers.forms import engine
from handlers.forms.steps import Answers, Form, FormEnv, Kind, Option, Step
from handlers.menu import ROLE_NAMES
from handlers.registry import command
from storage.cases import audit
from storage.drafts import discard_draft
from storage.models import Identity, Person, PersonRole, PersonVillage
from storage.people import load_profile


async def _people(ctx: Ctx, *, active: bool = True) -> list[Person]:
    stmt = select(Person).where(Person.commune_id == ctx.person.commune_id, Person.active.is_(active)).order_by(Person.id)
    return list((await ctx.session.scalars(stmt)).all())


@command("nguoidung", N_("People enrolled"), order=75)
async def list_people(ctx: Ctx, arg: str) -> None:
    people = await _people(ctx)
    commune = ctx.commune
    lines = [ctx.t("People enrolled ({n}):", n=len(people))]
    for p in people:
        profile = await load_profile(ctx.session, p.id)
        roles = ", ".join(ctx.t(ROLE_NAMES[r]) for r in sorted(profile.roles) if r in ROLE_NAMES)
        villages = ", ".join(v.name for v in commune.villages if v.id in profile.villages)
        channels = sorted(set((await ctx.session.scalars(select(Identity.channel).where(Identity.person_id == p.id)))
                              .all()))
        lines.append(f"#{p.id} · {p.name or '—'} · {roles}" + (f" · {villages}" if villages else "")
                     + (f" · {', '.join(channels)}" if channels else ""))
    revoked = await ctx.session.scalar(select(func.count(Person.id)).where(
        Person.commune_id == ctx.person.commune_id, Person.active.is_(False)))
    if revoked:
        lines.append(ctx.t("Revoked: {n}", n=revoked))
    if "admin" in ctx.person.roles:
        lines.append(ctx.t("To revoke someone: /thuhoi NUMBER"))
    ctx.say("\n".join(lines))


async def _revocable(ctx: Ctx, person_id: int) -> Person | None:
    person = await ctx.session.get(Person, person_id)
    if person is None or not person.active or person.id == ctx.person.id or person.commune_id != ctx.person.commune_id:
        return None
    return person


@command("thuhoi", N_("Revoke someone's access: /thuhoi NUMBER"), order=81)
async def revoke(ctx: Ctx, arg: str) -> None:
    number_ = arg.strip().lstrip("#")
    if number_.isdigit():
        await _ask_revoke(ctx, [number_])
        return
    people = [p for p in await _people(ctx) if p.id != ctx.person.id]
    ctx.say(ctx.t("Whose access do you want to revoke?"),
            [Choice(f"#{p.id} {p.name or '—'}", f"o:u:{p.id}") for p in people[:60]], columns=2)


async def _revocation_target(ctx: Ctx, parts: list[str]):
    """The person a revoke button names, if the presser is an admin and may revoke them; else says why."""
    if "admin" not in ctx.person.roles:
        ctx.say(ctx.t("This command is not available for your role."))
        return None
    person = await _revocable(ctx, int(parts[0])) if parts and parts[0].isdigit() else None
    if person is None:
        ctx.say(ctx.t("There is nobody with that number whose access you can revoke."))
    return person


async def _ask_revoke(ctx: Ctx, parts: list[str]) -> None:
    person = await _revocation_target(ctx, parts)
    if person is None:
        return
    ctx.say(ctx.t("Revoke the access of #{id} {name}? They will no longer be able to use the bot; an unfinished "
                  "draft of theirs is discarded.", id=person.id, name=person.name or "—"),
            [Choice(ctx.t("Revoke"), f"o:uy:{person.id}"), Choice(ctx.t("Cancel"), "o:ux", control=True)])


async def _confirm_revoke(ctx: Ctx, parts: list[str]) -> None:
    person = await _revocation_target(ctx, parts)
    if person is None:
        return
    person.active, person.revoked_at = False, ctx.now
    await discard_draft(ctx.session, person.id, None)
    audit(ctx.session, actor_id=ctx.person.id, channel=ctx.event.channel, action="revoke", now=ctx.now,
          detail=f"person {person.id}")
    ctx.say(ctx.t("The access of #{id} {name} has been revoked.", id=person.id, name=person.name or "—"))


async def _cancel(ctx: Ctx, parts: list[str]) -> None:
    ctx.say(ctx.t("Nothing was changed."))


# ---- /thongbao: a notice to reporters -----------------------------------------------------

ALL = "all"


def _audiences(env: FormEnv) -> list[Option]:
    return [Option(ALL, N_("All reporters of the commune"))] + [Option(v.id, v.name) for v in env.ctx.commune.villages]


async def _send_notice(ctx: Ctx, answers: Answers, meta: dict) -> str:
    stmt = (
        select(Person.id, Person.lang).join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.commune_id == ctx.person.commune_id, Person.active.is_(True), PersonRole.role == "reporter")
    )
    if answers["audience"] != ALL:
        stmt = stmt.join(PersonVillage, PersonVillage.person_id == Person.id).where(
            PersonVillage.village_id == answers["audience"])
    people = sorted(set((await ctx.session.execute(stmt)).all()))
    for person_id, lang in people:
        if person_id != ctx.person.id:
            ctx.push(person_id, Reply(text=translate(lang, "📢 Notice from {commune}:\n{text}",
                                                     commune=ctx.commune.name, text=answers["text"])))
    return ctx.t("The notice has been sent to {n} people.", n=len([p for p, _ in people if p != ctx.person.id]))


NOTICE = engine.register(Form(
    name="notice", title=N_("Notice to reporters"), submit=_send_notice,
    items=(
        Step("audience", Kind.CHOICE, N_("Who should receive the notice?"), label=N_("To"), options=_audiences),
        Step("text", Kind.TEXT, N_("Type the notice."), label=N_("Notice"), max_length=1500),
    ),
))


@command("thongbao", N_("Send a notice to reporters"), order=76)
async def notice(ctx: Ctx, arg: str) -> None:
    if ctx.person.commune_id is None:
        ctx.say(ctx.t("This command is not available for your role."))
        return
    found = await engine.current_draft(ctx)
    if found is not None:
        await engine.offer_resume(ctx, *found)
    else:
        await engine.start(ctx, NOTICE)


# The "o:…" buttons of this module: sub-action → (the command whose rights a press needs, handler).
ACTIONS = {"u": ("thuhoi", _ask_revoke), "uy": ("thuhoi", _confirm_revoke), "ux": ("thuhoi", _cancel)}
