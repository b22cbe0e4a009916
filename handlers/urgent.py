"""The urgent path comes before everything: case requests and emergency words.

A case request (`/baotin`, "bao tin", the menu's button) starts the case form at once, setting
any other open form aside; an emergency word ("khẩn cấp", "cứu", "nguy hiểm", "cấp cứu") at the
start of a message offers that path in one answer, or marks an open case form urgent. People
who cannot report a case (strangers, admins, province officers) get the numbers to call at once.
"""

from __future__ import annotations

from handlers import parsing
from handlers.context import Ctx

# Folded (no tone marks, lower case): what a message must be, or begin with.
EMERGENCY_WORDS = ("khan cap", "cap cuu", "nguy hiem", "cuu", "sos", "emergency", "help me")
CASE_REQUEST_WORDS = ("bao tin", "baotin", "bao tin vu viec", "bao tin khan cap", "report a case")
# In a free-text answer only a short cry counts ("cứu với!"), never a sentence that happens to
# begin with the word.
SHORT_CRY_WORDS = 4


def is_emergency(text: str | None, *, free_text: bool = False) -> bool:
    if not text:
        return False
    words = parsing.fold(text).split()
    if not words:
        return False
    joined = " ".join(words)
    hit = any(joined == w or joined.startswith(w + " ") for w in EMERGENCY_WORDS)
    return hit and (not free_text or len(words) <= SHORT_CRY_WORDS)


def numbers_to_call(ctx: Ctx) -> str:
    """113, 111 for children, the commune police and the office duty phone where configured."""
    commune = ctx.config.commune(ctx.person.commune_id) if ctx.person else None
    commune = commune or ctx.config.communes[0]
    lines = [ctx.t("If someone is in danger, call now:")]
    if commune.phones.police:
        lines.append(ctx.t("• Commune police: {phone}", phone=commune.phones.police))
    if commune.phones.office_duty:
        lines.append(ctx.t("• Culture-society office duty phone: {phone}", phone=commune.phones.office_duty))
    lines.append(ctx.t("• 113 (police)"))
    lines.append(ctx.t("• 111 (if a child is involved)"))
    return "\n".join(lines)


def numbers_only(ctx: Ctx) -> None:
    """For someone who cannot report a case here: the numbers, at once."""
    ctx.say(numbers_to_call(ctx))

