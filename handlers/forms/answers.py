"""Typed answers turned into values for each kind of step, with a specific message when they fail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from core.i18n import N_, number, translate
from handlers import parsing
from handlers.context import Ctx
from handlers.forms.steps import UNKNOWN_AGE, Kind, Step


@dataclass(frozen=True)
class Value:
    value: Any


@dataclass(frozen=True)
class Refusal:
    message: str


NUMBER_ERRORS = {
    "not_a_number": N_("“{text}” is not a number. Please type a whole number, e.g. 45."),
    "not_integer": N_("Please type a whole number, without decimals."),
    "too_small": N_("The number must be at least {minimum}."),
    "too_large": N_("The number must be at most {maximum}."),
    "several_numbers": N_("Please type just one number."),
    "negative": N_("The number cannot be negative."),
    "lookalike": N_("“{text}” has the letter “{letter}” mixed into the number. Please type digits only, e.g. {guess}."),
}
AGE_ERRORS = {
    "not_an_age": N_("I could not read “{text}” as an age. Please type the age in years, e.g. 35 (an approximate age is fine), or 'không rõ'."),
    "implausible_age": N_("“{text}” is not a possible age. Please type the age in years, e.g. 35, or 'không rõ'."),
    "ambiguous_age": N_("“{text}” could fall in more than one age group. Please type one approximate age, e.g. 35."),
}
DATE_ERRORS = {
    "invalid_date": N_("“{text}” is not a real date. Please check the day and the month."),
    "future": N_("The date cannot be in the future. Please type the date it took place."),
    "too_old": N_("The date is more than {days} days ago. Reports older than that cannot be sent here; please tell the office."),
    "not_a_date": N_("I could not read “{text}” as a date. Type dd/mm/yyyy, e.g. 25/11/2026, or 'hôm nay', 'hôm qua'."),
}


def _options_refusal(ctx: Ctx, step: Step, text: str) -> Refusal:
    if not ctx.caps.buttons:  # nothing to press here: say what to type
        return Refusal(ctx.t("“{text}” is not one of the options. Please type the number of an option.",
                             text=parsing.quotable(text)))
    return Refusal(ctx.t("“{text}” is not one of the options. Please press a button or type its number.", text=parsing.quotable(text)))


def _labels(ctx: Ctx, options) -> list[str]:
    return [ctx.t(o.label) for o in options]


def _match(ctx: Ctx, options, text: str, *, multi: bool) -> list[int] | None:
    """The displayed labels first, then the Vietnamese ones (an English UI user typing Vietnamese)."""
    found = parsing.parse_choices(text, _labels(ctx, options), multi=multi)
    if found is None and ctx.lang != "vi":
        found = parsing.parse_choices(text, [translate("vi", o.label) for o in options], multi=multi)
    return found


def _number_refusal(ctx: Ctx, step: Step, text: str, error: parsing.ParseError) -> Refusal:
    params = {**error.params, "text": parsing.quotable(text), "minimum": number(ctx.lang, step.minimum),
              "maximum": number(ctx.lang, step.maximum)}
    return Refusal(ctx.t(NUMBER_ERRORS.get(error.code, NUMBER_ERRORS["not_a_number"]), **params))


def age_group(groups: tuple[tuple[int, str], ...], low: int, high: int) -> str | None:
    """The group both ends of an age range fall in; None when they fall in different groups."""

    def of(age: int) -> str:
        return [code for first, code in groups if first <= age][-1]

    return of(low) if of(low) == of(high) else None


def _age(ctx: Ctx, step: Step, text: str) -> Value | Refusal:
    """An age in years becomes its group code at once: the number itself is kept nowhere."""
    result = parsing.parse_age(text, this_year=ctx.today.year)
    if result is None:
        return Value(UNKNOWN_AGE)
    if not isinstance(result, parsing.ParseError):
        group = age_group(step.age_groups, *result)
        if group is not None:
            return Value(group)
        result = parsing.ParseError("ambiguous_age")  # "15-17", "dưới 18": which group, then?
    if result.code not in AGE_ERRORS:
        return _number_refusal(ctx, step, text, result)
    msgid = AGE_ERRORS[result.code]
    return Refusal(ctx.t(msgid, text=parsing.quotable(text)))


DAYS_AGO = {"today": 0, "yesterday": 1}


def extra_value(ctx: Ctx, step: Step, code: str) -> Any:
    """A button beside a typed answer; on a date step "today" means the date it was pressed."""
    if step.kind == Kind.DATE and code in DAYS_AGO:
        return (ctx.today - timedelta(days=DAYS_AGO[code])).isoformat()
    return code


def edit_number(folded: str) -> int | None:
    """'sửa 3', 'sua 3', '3' on the review screen."""
    m = re.fullmatch(r"(?:sua|edit|doi)?\s*(\d{1,3})", folded)
    return int(m.group(1)) if m else None


def as_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)

