"""Who may do what: the one table. Every command takes its roles from here, and every button the
rights of a command named here (handlers/registry.py refuses a command or a button missing from
it); what each may read of a case is storage/cases.py access(), which follows the same rows below.
The README shows this table.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

EVERYONE = None  # every enrolled, active person

REPORTERS = frozenset({"reporter"})
CASE_REPORTERS = frozenset({"reporter", "office", "police", "leader"})
FIGURES = frozenset({"office", "leader", "province"})
CASE_WORKERS = frozenset({"office", "police"})
CASE_READERS = CASE_WORKERS | {"leader"}  # what each reads: storage/cases.py access()
RESPONDERS = frozenset({"police", "leader", "office", "admin"})

RIGHTS: dict[str, frozenset[str] | None] = {
    # everyone
    "start": EVERYONE, "huy": EVERYONE, "ngonngu": EVERYONE, "trogiup": EVERYONE, "lienket": EVERYONE,
    # reporting
    "baocao": REPORTERS,  # an outreach session
    "baotin": CASE_REPORTERS,  # a suspected case
    "cuatoi": CASE_REPORTERS,  # my reports and cases; correct a report, add to a case
    "rutlai": CASE_REPORTERS,  # ask to withdraw a case I reported
    # figures (aggregates only; province: every commune side by side)
    "tuan": FIGURES, "thang": FIGURES, "thon": FIGURES, "chuabaocao": FIGURES, "bantin": FIGURES,
    "xuat": FIGURES,  # case rows in an export: the office only, consented cases only
    # cases (police: only the cases routed to them; leader: the full record if consent agreed, else
    # the coded details; a leader never changes a status)
    "vuviec": CASE_READERS, "capnhat": CASE_WORKERS,
    "nhan": RESPONDERS,  # acknowledge an alert
    "nhatky": frozenset({"office"}),  # a case's audit log
    # people and messages
    "moi": frozenset({"admin"}), "thuhoi": frozenset({"admin"}),
    "nguoidung": frozenset({"admin", "office"}),
    "thongbao": frozenset({"office", "admin"}), "nhacnho": frozenset({"office", "admin"}),
}


def roles_for(command: str) -> frozenset[str] | None:
    if command not in RIGHTS:
        raise KeyError(f"command /{command} is not in handlers/permissions.py RIGHTS: add it there")
    return RIGHTS[command]


def allows(roles: frozenset[str], command: str) -> bool:
    """Whether someone with these roles may use the command (or press a button acting for it)."""
    allowed = roles_for(command)
    return allowed is None or bool(roles & allowed)


def refuse(ctx, what: str) -> None:
    """A polite refusal, and a log line naming the action and the person, never case data."""
    log.warning("refused %s to person %s (roles: %s)", what, ctx.person.id, ",".join(sorted(ctx.person.roles)) or "-")
    ctx.say(ctx.t("This command is not available for your role."))
