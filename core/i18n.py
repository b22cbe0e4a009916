"""Translations from Babel catalogs (locales/<lang>/LC_MESSAGES/messages.po).

Message ids are English source strings with named {placeholders}. The language is chosen per
message from the person, never set for the whole process.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = ("vi", "en")
DEFAULT_LANG = "vi"
BABEL_LOCALE = {"vi": "vi_VN", "en": "en_US"}


def N_(msgid: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return msgid


@cache
def catalog(lang: str) -> dict[str, str]:
    path = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return {m.id: m.string for m in cat if m.id and m.string and not m.fuzzy and isinstance(m.id, str)}


def translate(lang: str, msgid: str, **params) -> str:
    text = catalog(lang if lang in LANGUAGES else DEFAULT_LANG).get(msgid) or msgid
    if params:
        text = text.format(**params)
    return text


def number(lang: str, value: float | int, digits: int = 0) -> str:
    fmt = "#,##0" if digits == 0 else "#,##0." + "0" * digits
    return format_decimal(value, format=fmt, locale=BABEL_LOCALE.get(lang, "vi_VN"))


def day(value: date) -> str:
    """dd/mm/yyyy, as the UI shows dates in both languages."""
    return value.strftime("%d/%m/%Y")


def official_day(value: date) -> str:
    """Decree 30/2020: two-digit day; two-digit month only for January and February."""
    month = f"{value.month:02d}" if value.month < 3 else str(value.month)
    return f"{value.day:02d}/{month}/{value.year}"
