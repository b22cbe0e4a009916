"""One object per kind of step: how a typed answer is read, how a stored answer is shown, what
help it gives, and how it is asked (its buttons, whether answers gather until "Done"). The engine
asks the step's kind instead of branching on it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.i18n import N_, day, number
from handlers import parsing
from handlers.context import Ctx
from handlers.forms.answers import (
    DATE_ERRORS,
    Refusal,
    Value,
    _age,
    _match,
    _number_refusal,
    _options_refusal,
    as_date,
    extra_value,
)
from handlers.forms.steps import FormEnv, Kind, Step

Reader = Callable[[Ctx, Step, str], "Value | Refusal"]
Shower = Callable[[Ctx, Step, Any], str]


@dataclass(frozen=True)
class StepKind:
    help: str  # message id: how to answer it
    read: Reader  # a typed answer (NFC already) into a value, or a refusal that says why
    show: Shower  # a stored answer as the review and a closed question show it
    options: bool = False  # its options are buttons (one choice) or toggles (several)
    gathers: bool = False  # answers gather until "Done" (several choices, photos)
    toggles: bool = False  # several choices, toggled
    photos: bool = False  # answered by sending photos
    contact: bool = False  # answered by sharing a contact, or typing a number
    plain: str = ""  # message id: how to answer it where the chat has no buttons (else `help`)

    def help_for(self, caps) -> str:
        return self.plain if self.plain and not caps.buttons else self.help


def _read_yes_no(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    """"có", "ko", "đúng rồi"… and, as for any choice, the number or the label."""
    if not re.fullmatch(r"\s*\d+\s*", text):
        yes = parsing.parse_yes_no(text)
        want = None if yes is None else ("yes" if yes else "no")
        if want in [o.code for o in step.options_for(FormEnv(ctx))]:
            return Value(want)
    return _read_one(ctx, step, text)


def _read_one(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    env = FormEnv(ctx)
    options = step.options_for(env)
    found = _match(ctx, options, text, multi=False)
    if found is not None:
        return Value(options[found[0]].code)
    if step.explain is not None and (reason := step.explain(text, env)) is not None:
        msgid, params = reason
        return Refusal(ctx.t(msgid, **params))
    return _options_refusal(ctx, step, text)


def _read_several(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    options = step.options_for(FormEnv(ctx))
    found = _match(ctx, options, text, multi=True)
    return Value([options[i].code for i in found]) if found else _options_refusal(ctx, step, text)


def _read_integer(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    result = parsing.parse_int(text, minimum=step.minimum, maximum=step.maximum)
    return _number_refusal(ctx, step, text, result) if isinstance(result, parsing.ParseError) else Value(result)


def _read_date(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    window = ctx.config.forms.report_window_days if step.window else None
    result = parsing.parse_date(text, today=ctx.today, window_days=window)
    if isinstance(result, parsing.ParseError):
        params = {"text": parsing.quotable(text), "days": window or 0}
        return Refusal(ctx.t(DATE_ERRORS.get(result.code, DATE_ERRORS["not_a_date"]), **params))
    return Value(result.isoformat())


def _read_text(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    if not text:
        return Refusal(ctx.t("The answer is empty. Please type it again."))
    if len(text) > step.max_length:
        return Refusal(ctx.t("That is too long ({n} characters). Please keep it under {max} characters.",
                             n=number(ctx.lang, len(text)), max=number(ctx.lang, step.max_length)))
    return Value(text)


def _read_phone(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    result = parsing.parse_phone(text)
    if isinstance(result, parsing.ParseError):
        return Refusal(ctx.t("“{text}” does not look like a phone number. Type it like 0912 345 678.",
                             text=parsing.quotable(text)))
    return Value(result)


def _read_photo(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    return Refusal(ctx.t("Please send a photo, or press Done.") if ctx.caps.buttons
                   else ctx.t("Please send a photo, or type xong."))


def _show_codes(ctx: Ctx, step: Step, value: Any) -> str:
    labels = {o.code: ctx.t(o.label) for o in step.options_for(FormEnv(ctx))}
    codes = value if isinstance(value, list) else [value]
    # "; " because labels have commas of their own ("Phòng, chống bạo lực gia đình").
    return "; ".join(labels.get(c, c) for c in codes)


def _show_age(ctx: Ctx, step: Step, value: Any) -> str:
    """The stored group code, named as its group."""
    return next((ctx.t(o.label) for o in step.options_for(FormEnv(ctx)) if o.code == value), str(value))


def _show_plain(ctx: Ctx, step: Step, value: Any) -> str:
    return str(value)


def _show_phone(ctx: Ctx, step: Step, value: Any) -> str:
    """As the alerts write it (0912 345 678), not as stored (+84912345678)."""
    return parsing.display_phone(value) if isinstance(value, str) else str(value)


KINDS: dict[Kind, StepKind] = {
    Kind.CHOICE: StepKind(N_("Press a button, or type the number or the name of an option."), _read_one,
                          _show_codes, options=True, plain=N_("Type the number or the name of an option.")),
    Kind.YESNO: StepKind(N_("Press Yes or No, or type it."), _read_yes_no, _show_codes, options=True,
                         plain=N_("Type the number of your answer, or type có or không.")),
    Kind.MULTI: StepKind(N_("Press the options you want, then Done. Or type their numbers, e.g. 1 3."),
                         _read_several, _show_codes, options=True, gathers=True, toggles=True,
                         plain=N_("Type the numbers of the options you want, e.g. 1 3, then xong.")),
    Kind.INTEGER: StepKind(N_("Type a whole number, e.g. 45."), _read_integer,
                           lambda ctx, step, value: number(ctx.lang, value)),
    Kind.AGE: StepKind(N_("Type the age in years, e.g. 35; an approximate age is fine. If you do not know it, type "
                          "'không rõ'."), _age, _show_age),
    Kind.DATE: StepKind(N_("Type a date as dd/mm/yyyy, e.g. 25/11/2026, or 'hôm nay', 'hôm qua'."), _read_date,
                        lambda ctx, step, value: day(as_date(value))),
    Kind.TEXT: StepKind(N_("Type your answer in one message."), _read_text, _show_plain),
    Kind.PHONE: StepKind(N_("Share your phone number with the button, or type it, e.g. 0912 345 678."), _read_phone,
                         _show_phone, contact=True, plain=N_("Type your phone number, e.g. 0912 345 678.")),
    Kind.PHOTO: StepKind(N_("Send photos one at a time, then press Done."), _read_photo,
                         lambda ctx, step, value: ctx.t("{n} photo(s)", n=len(value)), gathers=True, photos=True,
                         plain=N_("Send photos one at a time, then type xong.")),
}


def typed(ctx: Ctx, step: Step, text: str, folded: str) -> Value | Refusal:
    """A typed answer to a step: one of its extra buttons by name, else as its kind reads it."""
    text = parsing.nfc(text)
    if step.extra:
        hit = _match(ctx, step.extra, text, multi=False)  # as shown, or in Vietnamese whatever the language
        if hit is not None and not re.fullmatch(r"\s*\d+\s*", text):
            return Value(extra_value(ctx, step, step.extra[hit[0]].code))
    return KINDS[step.kind].read(ctx, step, text)
