"""Periods typed after /tuan, /thang, /xuat and `python -m bot digest --week`."""

from __future__ import annotations

import re
from datetime import date, timedelta

from handlers import parsing
from storage.stats import Period, month_period, range_period, week_of, week_period

LAST = {"truoc", "tuan truoc", "thang truoc", "last", "last week", "last month", "previous"}
_WEEK = re.compile(r"(?:(\d{4})\s*-?\s*)?(?:w|tuan)?\s*(\d{1,2})(?:\s*/\s*(\d{4}))?")
_MONTH = re.compile(r"(?:thang\s*)?(\d{1,2})(?:\s*[/.\-]\s*(\d{4}))?|(\d{4})-(\d{1,2})")
_RANGE = re.compile(r"(.+?)\s*(?:[-\u2013\u2014]|den|to)\s*(.+)")


def parse_week(text: str, today: date) -> Period | None:
    """'', 'last', '2026-W47', 'W47', '47', '47/2026'; or a date range."""
    folded = parsing.fold(text)
    if not folded:
        return week_of(today)
    if folded in LAST:
        return week_of(today - timedelta(days=7))
    if m := _WEEK.fullmatch(folded):
        year = int(m[1] or m[3] or today.isocalendar()[0])
        try:
            return week_period(year, int(m[2]))
        except ValueError:
            return None
    return parse_range(text, today)


def parse_month(text: str, today: date) -> Period | None:
    """'', 'last', '11/2026', '11', '2026-11'; or a date range."""
    folded = parsing.fold(text)
    if not folded:
        return month_period(today.year, today.month)
    if folded in LAST:
        first = today.replace(day=1) - timedelta(days=1)
        return month_period(first.year, first.month)
    if m := _MONTH.fullmatch(folded):
        month, year = (int(m[1]), int(m[2] or today.year)) if m[1] else (int(m[4]), int(m[3]))
        return month_period(year, month) if 1 <= month <= 12 else None
    return parse_range(text, today)


def parse_range(text: str, today: date) -> Period | None:
    """'01/11/2026-15/11/2026', '1/11 - 15/11', '01/11/2026 đến 15/11/2026'."""
    folded = parsing.fold(text)
    m = _RANGE.fullmatch(folded)
    if not m:
        return None
    first = parsing.parse_date(m[1], today=today, window_days=None, allow_future=True)
    last = parsing.parse_date(m[2], today=today, window_days=None, allow_future=True)
    if isinstance(first, parsing.ParseError) or isinstance(last, parsing.ParseError) or first > last:
        return None
    return range_period(first, last)


def parse_any(text: str, today: date) -> Period | None:
    """/xuat: a week, a month or a range; nothing means this month so far."""
    folded = parsing.fold(text)
    if not folded:
        return month_period(today.year, today.month)
    if "w" in folded or folded.startswith("tuan"):
        return parse_week(text, today)
    return parse_month(text, today) or parse_range(text, today)
