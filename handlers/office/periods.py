"""Periods typed after /tuan, /thang, /xuat and on the command line (`--period`), with or without
tone marks: a week, a month, a quarter ("quy 2"), a half year ("6 thang", "6 thang cuoi nam"), a
year ("nam 2026"), the province's reporting year ("nam bao cao 2026", when [reporting] year_starts
is not 01/01), or a range of dates. A bare number is a week after /tuan and a month elsewhere."""

from __future__ import annotations

import re
from datetime import date, timedelta

from handlers import parsing
from storage.stats import (
    Period,
    half_period,
    month_period,
    quarter_period,
    range_period,
    reporting_year_period,
    week_of,
    week_period,
    year_period,
)

CALENDAR = (1, 1)  # (day, month) a reporting year starts on when none is configured
_YEAR = r"(?:(?:\s*(?:/|-|nam|year)\s*|\s+)(\d{4}))?"
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_QUARTER = re.compile(r"(?:quy|qui|q|quarter)\s*([1-4]|iv|i{1,3})" + _YEAR + r"|(\d{4})\s*-?\s*q([1-4])")
_HALF = re.compile(r"(?:6\s*thang(?:\s*(dau|cuoi))?(?:\s*nam)?|(h[12])|(first|second)\s*half)" + _YEAR)
_REPORTING = re.compile(r"(?:nam\s*bao\s*cao|reporting\s*year)" + _YEAR)
_CALENDAR_YEAR = re.compile(r"(?:nam|year)\s*(\d{4})|(\d{4})")
_WEEK = re.compile(r"(?:(\d{4})\s*-?\s*w\s*(\d{1,2})|(?:w|tuan|week)\s*(\d{1,2}))(?:\s*/\s*(\d{4}))?")
_MONTH = re.compile(r"(?:thang|t|month)\s*(\d{1,2})(?:(?:\s*(?:[/.\-]|nam|year)\s*|\s+)(\d{4}))?|(\d{4})-(\d{1,2})")
_BARE = re.compile(r"(\d{1,2})(?:\s*[/.\-]\s*(\d{4}))?")
_RANGE = re.compile(r"(.+?)\s*(?:[-\u2013\u2014]|den|to)\s*(.+)")
# "tuần trước", "năm nay": (the kind, how many of it back from today's).
_RELATIVE = {
    "truoc": (None, 1), "last": (None, 1), "previous": (None, 1), "nay": (None, 0), "this": (None, 0),
    "tuan truoc": ("week", 1), "last week": ("week", 1), "tuan nay": ("week", 0), "this week": ("week", 0),
    "thang truoc": ("month", 1), "last month": ("month", 1), "thang nay": ("month", 0), "this month": ("month", 0),
    "quy truoc": ("quarter", 1), "last quarter": ("quarter", 1), "quy nay": ("quarter", 0),
    "this quarter": ("quarter", 0),
    "nam truoc": ("year", 1), "nam ngoai": ("year", 1), "last year": ("year", 1), "nam nay": ("year", 0),
    "this year": ("year", 0),
}


def parse(text: str, today: date, *, default: str = "month", reporting_start: tuple[int, int] = CALENDAR
          ) -> Period | None:
    """The period `text` names, or None. `default` ("week" or "month"): what nothing, "truoc" and a
    bare number mean. `reporting_start`: (day, month) the province's reporting year starts on."""
    folded = re.sub(r"^tu\s+", "", parsing.fold(text))  # "từ 1/11 đến 15/11"
    folded = re.sub(r"\bnam nay$", str(today.year), folded)  # "6 tháng đầu năm nay"
    if not folded:
        return _relative(default, 0, today)
    if folded in _RELATIVE:
        kind, back = _RELATIVE[folded]
        return _relative(kind or default, back, today)
    found = _read(folded, today, default, reporting_start)
    if (found is None or found.start > today) and not re.search(r"\d{4}", folded):
        # No year typed: "tháng 12" in the first days of January is the December just past.
        before = _read(folded, date(today.year - 1, today.month, min(today.day, 28)), default, reporting_start)
        if before is not None and before.start <= today:
            return before
    return found


def _read(folded: str, today: date, default: str, reporting_start: tuple[int, int]) -> Period | None:
    for reader in (_quarter, _half, _reporting(reporting_start), _year, _week, _month):
        if (found := reader(folded, today)) is not False:
            return found
    if m := _BARE.fullmatch(folded):
        year, n = (int(m[2]) if m[2] else None), int(m[1])
        if default == "week" and not (year and n <= 12):  # "/tuan 47", "/tuan 47/2026"; "11/2026" is a month
            return _week_or_none(year or today.isocalendar()[0], n)
        return _month_or_none(year or today.year, n)
    if day := _one_day(folded, today):
        return day
    return parse_range(folded, today)


def _one_day(folded: str, today: date) -> Period | None:
    """A single date typed as a period: that day alone."""
    if not re.fullmatch(r"\d{1,2}\s*[/.\-]\s*\d{1,2}(?:\s*[/.\-]\s*\d{2,4})?", folded):
        return None
    day = parsing.parse_date(folded, today=today, window_days=None, allow_future=True)
    return None if isinstance(day, parsing.ParseError) else range_period(day, day)


def not_started(period: Period, today: date) -> bool:
    return period.start > today


def _relative(kind: str, back: int, today: date) -> Period:
    if kind == "week":
        return week_of(today - timedelta(days=7 * back))
    if kind == "quarter":
        index = today.year * 4 + (today.month - 1) // 3 - back
        return quarter_period(index // 4, index % 4 + 1)
    if kind == "year":
        return year_period(today.year - back)
    index = today.year * 12 + today.month - 1 - back
    return month_period(index // 12, index % 12 + 1)


def _year_of(text: str | None, today: date) -> int | None:
    year = int(text) if text else today.year
    return year if 2000 <= year <= 2100 else None


def _quarter(folded: str, today: date):
    if not (m := _QUARTER.fullmatch(folded)):
        return False
    number = int(m[4]) if m[3] else _ROMAN.get(m[1]) or int(m[1])
    year = _year_of(m[3] or m[2], today)
    return None if year is None else quarter_period(year, number)


def _half(folded: str, today: date):
    if not (m := _HALF.fullmatch(folded)):
        return False
    second = m[1] == "cuoi" or m[2] == "h2" or m[3] == "second"
    year = _year_of(m[4], today)
    return None if year is None else half_period(year, 2 if second else 1)


def _reporting(starts: tuple[int, int]):
    def read(folded: str, today: date):
        if not (m := _REPORTING.fullmatch(folded)):
            return False
        if m[1]:
            year = _year_of(m[1], today)
        else:  # the reporting year under way: 15/12/2026 already belongs to reporting year 2027
            day_, month = starts
            year = today.year + (starts != CALENDAR and today >= date(today.year, month, day_))
        return None if year is None else reporting_year_period(year, starts)
    return read


def _year(folded: str, today: date):
    if not (m := _CALENDAR_YEAR.fullmatch(folded)):
        return False
    year = _year_of(m[1] or m[2], today)
    return None if year is None else year_period(year)


def _week(folded: str, today: date):
    if not (m := _WEEK.fullmatch(folded)):
        return False
    year = int(m[1] or m[4] or today.isocalendar()[0])
    return _week_or_none(year, int(m[2] or m[3]))


def _month(folded: str, today: date):
    if not (m := _MONTH.fullmatch(folded)):
        return False
    month, year = (int(m[1]), int(m[2] or today.year)) if m[1] else (int(m[4]), int(m[3]))
    return _month_or_none(year, month)


def _week_or_none(year: int, week: int) -> Period | None:
    try:
        return week_period(year, week)
    except ValueError:
        return None


def _month_or_none(year: int, month: int) -> Period | None:
    return month_period(year, month) if 1 <= month <= 12 and 2000 <= year <= 2100 else None


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
