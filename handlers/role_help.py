"""/trogiup: the three things each role does most, with what to type, then every command it may use."""

from __future__ import annotations

from core.i18n import N_
from handlers.context import Ctx
from handlers.menu import ROLE_NAMES, commands_for

ROLE_ORDER = ("reporter", "office", "police", "leader", "admin", "province")
# Per role, the three things it does most: (message id, what to type as an example). {year} and
# {month} are today's, so an example typed as shown works.
MOST_DONE: dict[str, tuple[tuple[str, str], ...]] = {
    "reporter": (
        (N_("Report an outreach session you held, question by question; type ? at any question for an example."),
         "/baocao"),
        (N_("Report a suspected case. If someone is in danger right now, call 113 first."), "/baotin"),
        (N_("See your recent reports, correct one (within {days} days) or add to a case."), "/cuatoi"),
    ),
    "office": (
        (N_("The figures of this week, last week, a month, a quarter or the year."), "/tuan · /tuan truoc · /thang quy 2"),
        (N_("Open cases, one case, and changing a case's status."), "/vuviec · /capnhat HS-{year}-0001"),
        (N_("Excel for the province (the report form, then the data)."), "/xuat {month} · /xuat nam {year}"),
    ),
    "police": (
        (N_("Acknowledge an alert by typing this (or with the “Đã tiếp nhận” button under it, where there is one):"), "/nhan HS-{year}-0001"),
        (N_("The open cases routed to you, and one case in full."), "/vuviec · /vuviec HS-{year}-0001"),
        (N_("Record what was done: change a case's status."), "/capnhat HS-{year}-0001"),
    ),
    "leader": (
        (N_("Acknowledge an alert by typing this (or with the “Đã tiếp nhận” button under it, where there is one):"), "/nhan HS-{year}-0001"),
        (N_("Read the commune's cases (the free text only where the person agreed)."), "/vuviec · /vuviec HS-{year}-0001"),
        (N_("The commune's figures of a week, a month or the year."), "/tuan · /thang {month} · /thang nam {year}"),
    ),
    "admin": (
        (N_("Invite someone: choose the role (and the village), then give them the code."), "/moi"),
        (N_("See who is enrolled, and revoke someone's access by their number in that list."), "/nguoidung · /thuhoi 3"),
        (N_("Send a notice to every reporter."), "/thongbao"),
    ),
    "province": (
        (N_("The figures of every commune for a week, a month or the year."), "/tuan · /thang {month} · /thang nam {year}"),
        (N_("Excel of a period for the provincial report."), "/xuat quy 2 · /xuat nam {year}"),
        (N_("Villages that have not reported this week."), "/chuabaocao"),
    ),
}


def show_help(ctx: Ctx) -> None:
    ctx.say(help_text(ctx))


def help_text(ctx: Ctx) -> str:
    roles = ctx.person.roles if ctx.person else frozenset()
    values = {"year": ctx.today.year, "month": f"{ctx.today.month:02d}/{ctx.today.year}",
              "days": ctx.config.forms.correction_days}
    lines: list[str] = []
    for role in (r for r in ROLE_ORDER if r in roles):
        lines.append(ctx.t("As {role}, what you do most:", role=ctx.t(ROLE_NAMES[role])))
        for n, (what, example) in enumerate(MOST_DONE[role], 1):
            lines.append(f"{n}. {ctx.t(what, **values)}")
            lines.append(f"   → {example.format(**values)}")
        lines.append("")
    lines.append(ctx.t("Every command you may use:"))
    lines += [f"/{cmd} — {ctx.t(desc)}" for cmd, desc in commands_for(roles)]
    lines.append("")
    lines.append(ctx.t("In a form, type ? to have the question explained with an example. You can always go "
                       "back, skip an optional question or cancel: press the buttons, or type the words shown "
                       "under the question.") if ctx.caps.buttons else
                 ctx.t("In a form, type ? to have the question explained with an example. Answer by typing the "
                       "number of an option; to go back, skip an optional question or cancel, type the words "
                       "shown under the question."))
    return "\n".join(lines)
