"""Figures for the weekly digest and the office's commands, computed in SQL.

Aggregates only: nothing here reads case free text (case_texts) or returns one case's details.
Only current report versions count (a correction supersedes the earlier row).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import and_, distinct, exists, func, select
from sqlalchemy import case as when
from sqlalchemy.ext.asyncio import AsyncSession

from core.vocabulary import CASE_KINDS
from storage.models import (
    Alert,
    Case,
    CaseCode,
    CasePerson,
    CaseStatusChange,
    Person,
    PersonRole,
    Report,
    ReportTopic,
)

STALE_DAYS = 7
LARGE_SESSION = 1000  # attendances at one session above which the form asks "is this right?"
ADULT_AGES = ("18_59", "60p")
# The campaign periods of the plan (month, day) to (month, day), within one calendar year.
CAMPAIGN_PERIODS = {
    "women_day": ((3, 8), (3, 8)),
    "dv_month": ((6, 1), (6, 30)),
    "trafficking_day": ((7, 30), (7, 30)),
    "vn_women_day": ((10, 20), (10, 20)),
    "gender_month": ((11, 15), (12, 15)),
}


@dataclass(frozen=True)
class Period:
    """Inclusive dates in the commune's calendar. `ytd_start` begins the year it counts towards:
    01/01 of the year of the period's last day ("Từ đầu năm"), except a reporting year, which is
    its own year. kind: week | month | quarter | half | year | reporting_year | range."""

    start: date
    end: date
    kind: str
    ytd_start: date

    @property
    def week_key(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def closed_year(self) -> int | None:
        """A week that crosses 31/12 also gives the final totals of the year it closes."""
        return self.start.year if self.kind == "week" and self.start.year != self.end.year else None

    def utc_bounds(self, tz: ZoneInfo, start: date | None = None) -> tuple[datetime, datetime]:
        return midnight(start or self.start, tz), midnight(self.end + timedelta(days=1), tz)


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def _calendar(start: date, end: date, kind: str) -> Period:
    return Period(start, end, kind, date(end.year, 1, 1))


def week_period(year: int, week: int) -> Period:
    """An ISO week (Monday first): the week keeps its ISO number in titles, but its year to date is
    the calendar year of its last day, so week 53 of 2026 (28/12/2026 – 03/01/2027) counts from
    01/01/2027 and also closes 2026 (closed_year)."""
    start = date.fromisocalendar(year, week, 1)
    return _calendar(start, start + timedelta(days=6), "week")


def week_of(day: date) -> Period:
    year, week, _ = day.isocalendar()
    return week_period(year, week)


def month_period(year: int, month: int) -> Period:
    start = date(year, month, 1)
    end = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    return _calendar(start, end, "month")


def quarter_period(year: int, quarter: int) -> Period:
    start = date(year, 3 * quarter - 2, 1)
    return _calendar(start, month_period(year, 3 * quarter).end, "quarter")


def half_period(year: int, half: int) -> Period:
    """The first half (6 tháng đầu năm, 01/01 – 30/06) or the second (6 tháng cuối năm)."""
    return _calendar(date(year, 1, 1) if half == 1 else date(year, 7, 1),
                     date(year, 6, 30) if half == 1 else date(year, 12, 31), "half")


def year_period(year: int) -> Period:
    return _calendar(date(year, 1, 1), date(year, 12, 31), "year")


def reporting_year_period(year: int, starts: tuple[int, int]) -> Period:
    """A province's reporting year that does not start on 01/01: `starts` = (day, month), e.g.
    (15, 12): reporting year 2026 runs 15/12/2025 – 14/12/2026, and counts as its own year."""
    day_, month = starts
    if (day_, month) == (1, 1):
        return year_period(year)
    start = date(year - 1, month, day_)
    end = date(year, month, day_) - timedelta(days=1)
    return Period(start, end, "reporting_year", start)


def range_period(start: date, end: date) -> Period:
    return _calendar(start, end, "range")


def campaign_window(code: str, year: int) -> tuple[date, date]:
    (m1, d1), (m2, d2) = CAMPAIGN_PERIODS[code]
    return date(year, m1, d1), date(year, m2, d2)


def campaigns_in(period: Period) -> list[tuple[str, date, date]]:
    """Every campaign whose dates overlap the period, in the order they start."""
    hits = []
    for year in range(period.start.year, period.end.year + 1):
        for code in CAMPAIGN_PERIODS:
            start, end = campaign_window(code, year)
            if start <= period.end and end >= period.start:
                hits.append((start, code, end))
    return [(code, start, end) for start, code, end in sorted(hits)]


@lru_cache(maxsize=1024)  # asked several times a step (which questions a report form has)
def campaign_on(day: date) -> tuple[str, date, date] | None:
    """The campaign a session held on `day` may belong to (the plan's campaigns never overlap)."""
    for code in CAMPAIGN_PERIODS:
        start, end = campaign_window(code, day.year)
        if start <= day <= end:
            return code, start, end
    return None


def next_campaign(today: date) -> tuple[str, date]:
    """The next campaign to start after today."""
    starts = sorted(
        (campaign_window(code, year)[0], code) for year in (today.year, today.year + 1) for code in CAMPAIGN_PERIODS
    )
    start, code = next((s, c) for s, c in starts if s > today)
    return code, start


@dataclass
class Outreach:
    sessions: int = 0
    total: int = 0
    male: int = 0
    female: int = 0
    counted: int = 0  # attendances of the sessions counted by sex: the base of the women's share

    @property
    def female_share(self) -> float | None:
        return 100.0 * self.female / self.counted if self.counted else None

    def add(self, other: Outreach) -> None:
        for key in ("sessions", "total", "male", "female", "counted"):
            setattr(self, key, getattr(self, key) + getattr(other, key))


@dataclass
class CaseFigures:
    new: int = 0
    urgent: int = 0
    urgent_acknowledged: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_form: dict[str, int] = field(default_factory=dict)  # cases with that form (a case may have several)
    people: dict[tuple[str, str], int] = field(default_factory=dict)  # (sex, age group) -> people subjected
    perpetrators: dict[str, int] = field(default_factory=dict)  # sex -> people who committed it
    measures: dict[str, int] = field(default_factory=dict)  # cases with that measure
    repeat_adults: int = 0  # 2+ times in 12 months and 18 or older
    perpetrator_ages: dict[str, int] = field(default_factory=dict)  # age group -> people who committed it
    support: dict[str, int] = field(default_factory=dict)  # support type -> people subjected in cases given it
    flags: dict[str, int] = field(default_factory=dict)  # "disabled" | "pregnant" -> people subjected
    households: int = 0  # distinct households: a case and those marked "cùng hộ với" it are one
    linked: int = 0  # cases marked as of the same household as another


# The stage a status puts a case in; "closed" keeps the stage the case had before it.
STAGES = {"new": "received", "verifying": "verifying", "confirmed_dv": "confirmed", "handling": "confirmed",
          "not_dv": "not_of_kind", "handled": "handled", "monitoring": "handled"}


@dataclass
class CaseFlow:
    """Cases received, confirmed (as of their kind), found not of it, still verifying, handled.

    In a period: received = created in it; confirmed, not_of_kind and handled = that status was set in
    it; verifying = not yet confirmed nor ruled out at the period's end. Year to date: every case
    received counted once, by its latest status (received = verifying + confirmed + not_of_kind + handled)."""

    received: int = 0
    confirmed: int = 0
    not_of_kind: int = 0
    verifying: int = 0
    handled: int = 0
    # The official "tổng số vụ": in a period, the cases confirmed in it (= confirmed); year to date,
    # every case confirmed as of its kind and not later ruled out, handled or not.
    ever_confirmed: int = 0


@dataclass
class Ratio:
    """A national target's indicator: numerator over denominator, and who is left out of the base."""

    part: int = 0
    whole: int = 0
    left_out: int = 0  # people not in the base (answer missing or "không rõ", referred to investigation)

    def __iter__(self):
        return iter((self.part, self.whole))


@dataclass
class KindFigures:
    """Everything about one kind of case: never added to another kind."""

    kind: str
    period: CaseFigures
    ytd: CaseFigures
    flow: CaseFlow
    flow_ytd: CaseFlow


@dataclass
class Quality:
    mismatched: list[str] = field(default_factory=list)  # report refs where men + women != total
    uncounted: list[str] = field(default_factory=list)  # report refs not counted by sex
    undated_cases: int = 0  # cases whose date is "not sure"
    duplicates: list[list[str]] = field(default_factory=list)  # groups of refs that look the same
    over_total: list[str] = field(default_factory=list)  # young people or ethnic minority above the total
    large: list[str] = field(default_factory=list)  # more than LARGE_SESSION attendances at one session


@dataclass
class CampaignFigures:
    """One campaign of the plan that overlaps the period: every session held in its days up to
    `upto`, and the sessions marked as part of it in its year. `closed`: it is over ("kết quả")."""

    code: str
    start: date
    end: date
    upto: date
    closed: bool
    held: Outreach
    tagged: Outreach


@dataclass
class OrgFigures:
    """One organisation's reporting: its enrolled reporters, how many of them reported in the period,
    and the outreach its members reported (the organisation stamped on each report when it was made)."""

    org: str
    reporters: int = 0
    reporting: int = 0
    outreach: Outreach = field(default_factory=Outreach)


@dataclass
class YearFigures:
    """The final totals of a calendar year, given beside a week that crosses 31/12: outreach held in
    the year, and per kind each case received in it once, by its status at the year's end."""

    year: int
    outreach: Outreach
    flows: dict[str, CaseFlow]


@dataclass
class Figures:
    commune_id: str
    period: Period
    as_of: datetime
    villages: list[tuple[str, str]]  # (id, name) of the commune's villages
    outreach: Outreach
    ytd: Outreach
    by_format: dict[str, Outreach]
    by_topic: dict[str, int]
    village_period: dict[str, Outreach]
    village_ytd: dict[str, Outreach]
    campaigns: list[CampaignFigures]
    cases: CaseFigures
    cases_ytd: CaseFigures
    open_cases: int
    stale_cases: int
    supported: tuple[int, int]  # people subjected with at least one support service, of those answered
    counselled: tuple[int, int]  # people who committed it who were counselled, of those answered
    quality: Quality
    # Issue 12: per kind, NQ 28's three indicators as defined, the moment the figures were computed.
    kinds: dict[str, KindFigures] = field(default_factory=dict)
    target_2a: Ratio = field(default_factory=Ratio)
    target_2b: Ratio = field(default_factory=Ratio)
    target_3: Ratio = field(default_factory=Ratio)
    computed_at: datetime | None = None  # local time of the commune: "số liệu tính đến"
    by_org: dict[str, OrgFigures] = field(default_factory=dict)
    closed_year: YearFigures | None = None
    # Sessions for the whole commune or several villages ("Toàn xã / liên thôn"): in no village's line.
    commune_wide: Outreach = field(default_factory=Outreach)
    commune_wide_ytd: Outreach = field(default_factory=Outreach)

    @property
    def reported(self) -> list[str]:
        return [vid for vid, _ in self.villages if vid in self.village_period]

    @property
    def not_reported(self) -> list[str]:
        return [name for vid, name in self.villages if vid not in self.village_period]

    @property
    def thin_villages(self) -> list[tuple[str, int]]:
        """Villages with fewer than two sessions this year, and how many they had."""
        out = []
        for vid, name in self.villages:
            n = self.village_ytd[vid].sessions if vid in self.village_ytd else 0
            if n < 2:
                out.append((name, n))
        return out


def _current(communes: Sequence[str], start: date, end: date):
    return (
        Report.commune_id.in_(list(communes)),
        Report.superseded_at.is_(None),
        Report.held_on >= start,
        Report.held_on <= end,
    )


OUTREACH_COLUMNS = (
    func.count(Report.id),
    func.coalesce(func.sum(Report.attendees_total), 0),
    func.coalesce(func.sum(Report.attendees_male), 0),
    func.coalesce(func.sum(Report.attendees_female), 0),
    func.coalesce(func.sum(when((Report.attendees_female.is_not(None), Report.attendees_total), else_=0)), 0),
)


async def outreach_by(session: AsyncSession, communes: Sequence[str], start: date, end: date,
                      column=None, *, campaign: str | None = None) -> dict[tuple, Outreach]:
    """Outreach totals grouped by commune (and a column of reports, if given)."""
    keys = [Report.commune_id] + ([column] if column is not None else [])
    stmt = select(*keys, *OUTREACH_COLUMNS).where(*_current(communes, start, end)).group_by(*keys)
    if campaign is not None:
        stmt = stmt.where(Report.campaign == campaign)
    out: dict[tuple, Outreach] = {}
    for row in await session.execute(stmt):
        n = len(keys)
        out[tuple(row[:n])] = Outreach(*(int(v) for v in row[n:]))
    return out


async def _one_commune(session, commune_id, start, end, column=None) -> dict:
    rows = await outreach_by(session, [commune_id], start, end, column)
    return {key[1] if column is not None else None: value for key, value in rows.items()}


async def topics(session: AsyncSession, commune_id: str, start: date, end: date) -> dict[str, int]:
    stmt = (
        select(ReportTopic.topic, func.count())
        .join(Report, Report.id == ReportTopic.report_id)
        .where(*_current([commune_id], start, end))
        .group_by(ReportTopic.topic)
    )
    return {topic: int(n) for topic, n in await session.execute(stmt)}


async def case_figures(session: AsyncSession, commune_id: str, since: datetime, until: datetime,
                       kind: str | None = None) -> CaseFigures:
    """Cases received (created) between two moments, counted by their coded answers. With a kind:
    only that kind, and not the cases found not to be of it."""
    found = (await _case_figures(session, commune_id, since, until, None if kind is None else (kind,)))[0]
    return found.get(kind) or CaseFigures()


async def case_figures_and_since(session: AsyncSession, commune_id: str, since: datetime, split: datetime,
                                 until: datetime, kinds: tuple[str, ...] | None
                                 ) -> tuple[dict, dict]:
    """The figures from `since` and from `split` (later) to `until` in one pass: (whole, part),
    each keyed by kind (or None for all cases), every statement grouped by kind. Every count is the sum of the cases
    before `split` and after it, except the households, counted over each range apart."""
    if split < since:  # a period reaching back before the year it is counted in: two passes
        whole = (await _case_figures(session, commune_id, since, until, kinds))[0]
        part = (await _case_figures(session, commune_id, split, until, kinds))[0]
        return whole, part
    return await _case_figures(session, commune_id, since, until, kinds, split=split)


def _add(target: dict, key, n: int) -> None:
    target[key] = target.get(key, 0) + n


async def _case_figures(session: AsyncSession, commune_id: str, since: datetime, until: datetime,
                        kinds: tuple[str, ...] | None, *, split: datetime | None = None
                        ) -> tuple[dict[str | None, CaseFigures], dict[str | None, CaseFigures]]:
    """Every kind's figures apart (`kinds`), or all cases together (None, keyed None): from `since`,
    and (with `split`) from `split`, both to `until`."""
    in_range = (Case.commune_id == commune_id, Case.created_at >= since, Case.created_at < until)
    keys: tuple = ()
    if kinds is not None:
        in_range += (Case.kind.in_(kinds), Case.status != "not_dv")
        keys = (Case.kind,)
    late = Case.created_at >= (split or since)  # in the later range
    parts: tuple = (late.label("late"),) if split is not None else ()
    whole: dict[str | None, CaseFigures] = defaultdict(CaseFigures)
    part: dict[str | None, CaseFigures] = defaultdict(CaseFigures)

    def outs(row) -> tuple[list[CaseFigures], tuple]:
        """The figures a row counts in (the whole range, and the later one if it is in it), and
        the row's values after its keys."""
        key = row[0] if keys else None
        rest = tuple(row[len(keys):])
        if not parts:
            return [whole[key]], rest
        return ([whole[key], part[key]] if rest[0] else [whole[key]]), rest[1:]

    # One statement for the case-level counts, for both ranges (FILTER: only the later cases).
    acknowledged = exists().where(Alert.case_id == Case.id, Alert.kind == "urgent", Alert.acknowledged_at.is_not(None))
    household = func.coalesce(Case.household_case_id, Case.id)
    counts = (
        func.count(Case.id),
        func.count(Case.id).filter(Case.urgent.is_(True)),
        func.count(Case.id).filter(and_(Case.repeat == "repeat", Case.perpetrator_age.in_(ADULT_AGES))),
        func.count(Case.id).filter(and_(Case.urgent.is_(True), acknowledged)),
        func.count(distinct(household)),
        func.count(Case.id).filter(Case.household_case_id.is_not(None)),
    )
    later: tuple = ()
    if split is not None:
        later = (
            func.count(Case.id).filter(late),
            func.count(Case.id).filter(and_(late, Case.urgent.is_(True))),
            func.count(Case.id).filter(and_(late, Case.repeat == "repeat", Case.perpetrator_age.in_(ADULT_AGES))),
            func.count(Case.id).filter(and_(late, Case.urgent.is_(True), acknowledged)),
            func.count(distinct(household)).filter(late),
            func.count(Case.id).filter(and_(late, Case.household_case_id.is_not(None))),
        )
    households: dict[tuple[bool, str | None], tuple[int, int]] = {}
    for row in await session.execute(select(*keys, *counts, *later).where(*in_range).group_by(*keys)):
        key = row[0] if keys else None
        values = [int(v or 0) for v in row[len(keys):]]
        for target, vals, is_part in ((whole, values[:6], False), (part, values[6:], True)):
            if not vals or not vals[0]:
                continue  # no case in that range (the ungrouped count still gives a row)
            out = target[key]
            out.new, out.urgent, out.repeat_adults, out.urgent_acknowledged = vals[:4]
            households[(is_part, key)] = (vals[4], vals[5])
    for column, field_name in ((Case.kind, "by_kind"), (Case.perpetrator_sex, "perpetrators")):
        stmt = (select(*keys, *parts, column, func.count()).where(*in_range, column.is_not(None))
                .group_by(*keys, *parts, column))
        for row in await session.execute(stmt):
            targets, (k, n) = outs(row)
            for out in targets:
                _add(getattr(out, field_name), k, int(n))
    stmt = (
        select(*keys, *parts, CaseCode.field, CaseCode.code, func.count())
        .join(Case, Case.id == CaseCode.case_id)
        .where(*in_range, CaseCode.field.in_(("forms", "measures")))
        .group_by(*keys, *parts, CaseCode.field, CaseCode.code)
    )
    for row in await session.execute(stmt):
        targets, (fld, code, n) = outs(row)
        for out in targets:
            _add(out.by_form if fld == "forms" else out.measures, code, int(n))
    stmt = (
        select(*keys, *parts, CasePerson.sex, CasePerson.age_group, func.count())
        .join(Case, Case.id == CasePerson.case_id)
        .where(*in_range)
        .group_by(*keys, *parts, CasePerson.sex, CasePerson.age_group)
    )
    for row in await session.execute(stmt):
        targets, (sex, age, n) = outs(row)
        for out in targets:
            _add(out.people, (sex or "unknown", age or "unknown"), int(n))
    if kinds is None:
        return {None: whole[None]}, {None: part[None]}
    stmt = (select(*keys, *parts, Case.perpetrator_age, func.count())
            .where(*in_range, Case.perpetrator_sex.is_not(None)).group_by(*keys, *parts, Case.perpetrator_age))
    for row in await session.execute(stmt):
        targets, (age, n) = outs(row)
        for out in targets:
            _add(out.perpetrator_ages, age or "unknown", int(n))
    stmt = (
        select(*keys, *parts, CaseCode.code, func.count(CasePerson.id))
        .join(Case, Case.id == CaseCode.case_id).join(CasePerson, CasePerson.case_id == Case.id)
        .where(*in_range, CaseCode.field == "support").group_by(*keys, *parts, CaseCode.code)
    )
    for row in await session.execute(stmt):
        targets, (code, n) = outs(row)
        for out in targets:
            _add(out.support, code, int(n))
    stmt = (select(*keys, *parts, func.coalesce(func.sum(when((CasePerson.disabled.is_(True), 1), else_=0)), 0),
                   func.coalesce(func.sum(when((CasePerson.pregnant_or_nursing.is_(True), 1), else_=0)), 0))
            .join(Case, Case.id == CasePerson.case_id).where(*in_range).group_by(*keys, *parts))
    for row in await session.execute(stmt):
        targets, (disabled, pregnant) = outs(row)
        for out in targets:
            have = out.flags or {"disabled": 0, "pregnant": 0}
            out.flags = {"disabled": have["disabled"] + int(disabled), "pregnant": have["pregnant"] + int(pregnant)}
    for is_part, target in ((False, whole), (True, part)):
        if is_part and split is None:
            continue
        for k in kinds:
            out = target[k]
            out.flags = out.flags or {"disabled": 0, "pregnant": 0}
            out.households, out.linked = households.get((is_part, k), (0, 0))
    return dict(whole), dict(part)


def _stage(history: list[str]) -> str:
    stage = "received"
    for status in history:
        stage = STAGES.get(status, stage)
    return stage


async def case_flows(session: AsyncSession, commune_id: str, since: datetime, until: datetime,
                     ytd_since: datetime) -> dict[str, tuple[CaseFlow, CaseFlow]]:
    """Per kind: (the period's flow, the year to date's), from the status history (CaseFlow)."""
    rows = (await session.execute(
        select(Case.id, Case.kind, Case.created_at, CaseStatusChange.status, CaseStatusChange.at)
        .join(CaseStatusChange, CaseStatusChange.case_id == Case.id)
        .where(Case.commune_id == commune_id, Case.created_at < until, CaseStatusChange.at < until)
        .order_by(Case.id, CaseStatusChange.at, CaseStatusChange.id)
    )).all()
    out = {k: (CaseFlow(), CaseFlow()) for k in CASE_KINDS}
    history: dict[int, list[str]] = defaultdict(list)
    info: dict[int, tuple[str | None, datetime]] = {}
    set_in_period: dict[int, set[str]] = defaultdict(set)
    for case_id, kind, created, status, at in rows:
        history[case_id].append(status)
        info[case_id] = (kind, created)
        if at >= since:
            set_in_period[case_id].add(status)
    for case_id, statuses in history.items():
        kind, created = info[case_id]
        if kind not in out:
            continue
        now, ytd = out[kind]
        stage = _stage(statuses)
        if created >= since:
            now.received += 1
        marks = set_in_period[case_id]
        now.confirmed += "confirmed_dv" in marks
        now.ever_confirmed += "confirmed_dv" in marks
        now.not_of_kind += "not_dv" in marks
        now.handled += "handled" in marks
        now.verifying += stage in ("received", "verifying")
        if created >= ytd_since:
            ytd.received += 1
            ytd.ever_confirmed += "confirmed_dv" in statuses and stage != "not_of_kind"
            if stage in ("received", "verifying"):
                ytd.verifying += 1
            else:
                setattr(ytd, stage, getattr(ytd, stage) + 1)
    return out


async def open_and_stale(session: AsyncSession, communes: Sequence[str], as_of: datetime) -> dict[str, tuple[int, int]]:
    """Per commune: cases not closed, and of them those with no update for 7 days or more."""
    stale_before = as_of - timedelta(days=STALE_DAYS)
    stmt = (
        select(
            Case.commune_id, func.count(Case.id),
            func.coalesce(func.sum(when((Case.updated_at <= stale_before, 1), else_=0)), 0),
        )
        .where(Case.commune_id.in_(list(communes)), Case.status != "closed", Case.created_at < as_of)
        .group_by(Case.commune_id)
    )
    return {cid: (int(n), int(stale)) for cid, n, stale in await session.execute(stmt)}


async def national_targets(session: AsyncSession, commune_id: str, since: datetime, until: datetime
                           ) -> tuple[Ratio, Ratio, Ratio]:
    """Resolution 28/NQ-CP as DOMAIN.md defines it, over the cases received between two moments and
    not found to be of another kind:
    2a: people subjected to DV or GBV (trafficking excluded) who received at least one basic support
        service, over those whose support was answered;
    2b: people who committed DV or GBV and were not referred to the investigating agency, who were
        counselled, over those answered "có" or "không" ("không rõ" is left out of the base);
    3: trafficking victims who needed support (the "cần hỗ trợ" answer) and received some."""
    base = (Case.commune_id == commune_id, Case.created_at >= since, Case.created_at < until,
            Case.status != "not_dv")
    violence = Case.kind.in_(("domestic", "sexual_abuse"))
    # Correlated to the case, through case_codes' primary key (case_id first): an IN (SELECT ...)
    # read every commune's codes for each commune's figures (10 ms of a 55 ms digest on a province).
    answered = exists().where(CaseCode.case_id == Case.id, CaseCode.field == "support")
    helped = exists().where(CaseCode.case_id == Case.id, CaseCode.field == "support", CaseCode.code != "none")
    referred = exists().where(CaseCode.case_id == Case.id, CaseCode.field == "measures",
                              CaseCode.code == "investigation")

    async def people(*where) -> tuple[int, int, int]:
        row = (await session.execute(
            select(func.count(CasePerson.id),
                   func.coalesce(func.sum(when((answered, 1), else_=0)), 0),
                   func.coalesce(func.sum(when((helped, 1), else_=0)), 0))
            .join(Case, Case.id == CasePerson.case_id).where(*base, *where)
        )).one()
        return int(row[0]), int(row[1]), int(row[2])

    everyone, asked, got = await people(violence)
    t2a = Ratio(got, asked, everyone - asked)
    row = (await session.execute(
        select(func.count(Case.id),
               func.coalesce(func.sum(when((Case.perpetrator_counselled.in_(("yes", "no")), 1), else_=0)), 0),
               func.coalesce(func.sum(when((Case.perpetrator_counselled == "yes", 1), else_=0)), 0))
        .where(*base, violence, Case.perpetrator_sex.is_not(None), ~referred)
    )).one()
    referred_n = int(await session.scalar(
        select(func.count(Case.id)).where(*base, violence, Case.perpetrator_sex.is_not(None), referred)
    ) or 0)
    t2b = Ratio(int(row[2]), int(row[1]), int(row[0]) - int(row[1]) + referred_n)
    everyone, _, got = await people(Case.kind == "trafficking", Case.needs_support == "yes")
    t3 = Ratio(got, everyone, 0)
    return t2a, t2b, t3


async def quality(session: AsyncSession, commune_id: str, period: Period, since: datetime, until: datetime) -> Quality:
    out = Quality()
    rows = (await session.execute(
        select(Report.ref, Report.village_id, Report.held_on, Report.format, Report.attendees_total,
               Report.attendees_male, Report.attendees_female, Report.youth, Report.ethnic_minority)
        .where(*_current([commune_id], period.start, period.end))
        .order_by(Report.held_on, Report.id)
    )).all()
    groups: dict[tuple, list[str]] = defaultdict(list)
    for ref, village, held, fmt, total, male, female, youth, minority in rows:
        # What the form refuses or asks about today may be in older reports, or typed before the checks.
        if any(part is not None and part > total for part in (youth, minority)):
            out.over_total.append(ref)
        if total > LARGE_SESSION:
            out.large.append(ref)
        if male is None or female is None:
            out.uncounted.append(ref)
        elif male + female != total:
            out.mismatched.append(ref)
        groups[(village, held, fmt, total)].append(ref)
    out.duplicates = [refs for refs in groups.values() if len(refs) > 1]
    out.undated_cases = int(await session.scalar(
        select(func.count(Case.id)).where(Case.commune_id == commune_id, Case.created_at >= since,
                                          Case.created_at < until, Case.occurred_on.is_(None),
                                          Case.confirmed_at.is_not(None))
    ) or 0)
    return out


async def figures(session: AsyncSession, commune, period: Period, *, now: datetime) -> Figures:
    """Everything the digest says about one commune for one period."""
    cid, tz = commune.id, commune.tz
    since, until = period.utc_bounds(tz)
    ytd_since, _ = period.utc_bounds(tz, period.ytd_start)
    as_of = min(now, until)
    village_period = await _one_commune(session, cid, period.start, period.end, Report.village_id)
    village_ytd = await _one_commune(session, cid, period.ytd_start, period.end, Report.village_id)
    outreach, ytd = Outreach(), Outreach()
    for v in village_period.values():
        outreach.add(v)
    for v in village_ytd.values():
        ytd.add(v)
    today = now.astimezone(tz).date()
    campaigns = [await campaign_figures(session, cid, code, start, end, period, today)
                 for code, start, end in campaigns_in(period) if start <= today]
    open_cases, stale = (await open_and_stale(session, [cid], as_of)).get(cid, (0, 0))
    flows = await case_flows(session, cid, since, until, ytd_since)
    kinds = {}
    # The year and the period in one pass: each statement grouped by kind and by whether the case
    # came in the period (storage/stats.py case_figures_and_since).
    ytd_kinds, period_kinds = await case_figures_and_since(session, cid, ytd_since, since, until, CASE_KINDS)
    all_ytd, all_period = await case_figures_and_since(session, cid, ytd_since, since, until, None)
    for kind in CASE_KINDS:
        kinds[kind] = KindFigures(kind, period_kinds.get(kind) or CaseFigures(), ytd_kinds.get(kind) or CaseFigures(),
                                  *flows[kind])
    t2a, t2b, t3 = await national_targets(session, cid, ytd_since, until)
    supported, counselled = (t2a.part, t2a.whole), (t2b.part, t2b.whole)
    return Figures(
        commune_id=cid, period=period, as_of=as_of,
        villages=[(v.id, v.name) for v in commune.villages],
        outreach=outreach, ytd=ytd,
        by_format=await _one_commune(session, cid, period.start, period.end, Report.format),
        by_topic=await topics(session, cid, period.start, period.end),
        village_period={k: v for k, v in village_period.items() if k is not None},
        village_ytd={k: v for k, v in village_ytd.items() if k is not None},
        campaigns=campaigns,
        cases=all_period[None], cases_ytd=all_ytd[None],
        open_cases=open_cases, stale_cases=stale,
        supported=supported, counselled=counselled,
        quality=await quality(session, cid, period, since, until),
        kinds=kinds, target_2a=t2a, target_2b=t2b, target_3=t3, computed_at=now.astimezone(tz),
        by_org=await org_figures(session, cid, period.start, period.end, until),
        commune_wide=village_period.get(None, Outreach()), commune_wide_ytd=village_ytd.get(None, Outreach()),
        closed_year=None if period.closed_year is None else await year_figures(session, commune, period.closed_year),
    )


async def campaign_figures(session: AsyncSession, commune_id: str, code: str, start: date, end: date,
                           period: Period, today: date) -> CampaignFigures:
    """A campaign's own totals: every session held in its days, from its first day (even before the
    period) to its last, the period's end or today, whichever comes first; and the sessions marked as
    part of it, wherever they fall in its year (a reporter may mark one held the day after)."""
    upto = min(end, period.end, today)
    held = (await _one_commune(session, commune_id, start, upto)).get(None, Outreach())
    year_end = min(date(start.year, 12, 31), period.end, today)
    tagged = (await outreach_by(session, [commune_id], date(start.year, 1, 1), year_end, campaign=code)
              ).get((commune_id,), Outreach())
    return CampaignFigures(code, start, end, upto, end < today and end <= period.end, held, tagged)


async def org_figures(session: AsyncSession, commune_id: str, start: date, end: date, until: datetime
                      ) -> dict[str, OrgFigures]:
    """Per organisation: the reporters (enrolled by the period's end, and anyone who reported in
    it: a head enrolled later may report a session held before, one since withdrawn still counts
    for what they reported), those who reported in the period, the outreach reported. So the
    reporters who reported are never more than the reporters ("1/0")."""
    out: dict[str, OrgFigures] = {}
    members: dict[str, set[int]] = defaultdict(set)
    enrolled = await session.execute(
        select(Person.org, Person.id).distinct()
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.commune_id == commune_id, Person.active.is_(True), PersonRole.role == "reporter",
               Person.org.is_not(None), Person.created_at < until))
    for org, person_id in enrolled:
        members[org].add(person_id)
    reported: dict[str, set[int]] = defaultdict(set)
    reporting = await session.execute(
        select(Report.org, Report.person_id).distinct()
        .where(*_current([commune_id], start, end), Report.org.is_not(None)))
    for org, person_id in reporting:
        reported[org].add(person_id)
    for org in members.keys() | reported.keys():
        figures = out.setdefault(org, OrgFigures(org))
        figures.reporters = len(members[org] | reported[org])
        figures.reporting = len(reported[org])
    for (_, org), o in (await outreach_by(session, [commune_id], start, end, Report.org)).items():
        if org is not None:
            out.setdefault(org, OrgFigures(org)).outreach = o
    return out


async def year_figures(session: AsyncSession, commune, year: int) -> YearFigures:
    first, last = date(year, 1, 1), date(year, 12, 31)
    since, until = midnight(first, commune.tz), midnight(last + timedelta(days=1), commune.tz)
    outreach = (await _one_commune(session, commune.id, first, last)).get(None, Outreach())
    flows = await case_flows(session, commune.id, since, until, since)
    return YearFigures(year, outreach, {kind: ytd for kind, (_, ytd) in flows.items()})


@dataclass
class CommuneRow:
    """One commune's line in the province's side-by-side view."""

    commune_id: str
    villages: int
    reported: int
    outreach: Outreach
    new_cases: int
    open_cases: int


async def province_rows(session: AsyncSession, communes: Sequence, period: Period, *, now: datetime) -> list[CommuneRow]:
    """Aggregates of every commune in a few grouped queries (a province has ~100 communes)."""
    ids = [c.id for c in communes]
    totals = await outreach_by(session, ids, period.start, period.end)
    reported = dict((await session.execute(
        select(Report.commune_id, func.count(distinct(Report.village_id)))
        .where(*_current(ids, period.start, period.end), Report.village_id.is_not(None))
        .group_by(Report.commune_id)
    )).all())
    # The communes may sit in different time zones; the province view takes the first one's.
    tz = communes[0].tz
    since, until = period.utc_bounds(tz)
    new = dict((await session.execute(
        select(Case.commune_id, func.count(Case.id))
        .where(Case.commune_id.in_(ids), Case.created_at >= since, Case.created_at < until)
        .group_by(Case.commune_id)
    )).all())
    opened = await open_and_stale(session, ids, min(now, until))
    return [
        CommuneRow(c.id, len(c.villages), int(reported.get(c.id, 0)), totals.get((c.id,), Outreach()),
                   int(new.get(c.id, 0)), opened.get(c.id, (0, 0))[0])
        for c in communes
    ]


async def village_year(session: AsyncSession, commune, village_id: str, today: date) -> tuple[Outreach, int]:
    """One village this calendar year: its outreach, and its open cases."""
    start = date(today.year, 1, 1)
    figures_ = (await _one_commune(session, commune.id, start, today, Report.village_id)).get(village_id, Outreach())
    open_cases = int(await session.scalar(
        select(func.count(Case.id)).where(Case.commune_id == commune.id, Case.village_id == village_id,
                                          Case.status != "closed")
    ) or 0)
    return figures_, open_cases


@dataclass(frozen=True)
class ReportRow:
    commune_id: str
    ref: str
    village_id: str | None
    held_on: date
    format: str
    topics: tuple[str, ...]
    total: int
    male: int | None
    female: int | None
    campaign: str | None
    language: str | None
    leaflets: int | None
    banners: int | None
    loudspeaker_minutes: int | None
    youth: int | None
    ethnic_minority: int | None
    org: str | None


async def report_rows(session: AsyncSession, communes: Sequence[str], start: date, end: date) -> list[ReportRow]:
    """The current version of every outreach report of a period (no free text: notes stay out)."""
    rows = (await session.execute(
        select(Report.id, Report.commune_id, Report.ref, Report.village_id, Report.held_on, Report.format,
               Report.attendees_total, Report.attendees_male, Report.attendees_female, Report.campaign,
               Report.language, Report.leaflets, Report.banners, Report.loudspeaker_minutes, Report.youth,
               Report.ethnic_minority, Report.org)
        .where(*_current(communes, start, end))
        .order_by(Report.commune_id, Report.held_on, Report.id)
    )).all()
    topics_of: dict[int, list[str]] = defaultdict(list)
    ids = [r[0] for r in rows]
    for chunk in range(0, len(ids), 500):
        stmt = select(ReportTopic.report_id, ReportTopic.topic).where(ReportTopic.report_id.in_(ids[chunk:chunk + 500]))
        for rid, topic in await session.execute(stmt):
            topics_of[rid].append(topic)
    return [ReportRow(r[1], r[2], r[3], r[4], r[5], tuple(sorted(topics_of[r[0]])), *r[6:]) for r in rows]


@dataclass(frozen=True)
class CaseRow:
    ref: str
    village_id: str | None
    occurred_on: date | None
    received_on: datetime
    kind: str | None
    forms: tuple[str, ...]
    people: int
    status: str
    urgent: bool


async def consented_case_rows(session: AsyncSession, commune_id: str, since: datetime, until: datetime) -> list[CaseRow]:
    """Coded rows of the cases whose person subjected agreed to sharing; never any free text."""
    cases = (await session.execute(
        select(Case.id, Case.ref, Case.village_id, Case.occurred_on, Case.created_at, Case.kind, Case.status,
               Case.urgent)
        .where(Case.commune_id == commune_id, Case.created_at >= since, Case.created_at < until,
               Case.consent == "agreed")
        .order_by(Case.created_at)
    )).all()
    ids = [c[0] for c in cases] or [-1]
    forms: dict[int, list[str]] = defaultdict(list)
    for cid, code in await session.execute(
        select(CaseCode.case_id, CaseCode.code).where(CaseCode.case_id.in_(ids), CaseCode.field == "forms")
    ):
        forms[cid].append(code)
    people = dict((await session.execute(
        select(CasePerson.case_id, func.count()).where(CasePerson.case_id.in_(ids)).group_by(CasePerson.case_id)
    )).all())
    return [CaseRow(c[1], c[2], c[3], c[4], c[5], tuple(sorted(forms[c[0]])), int(people.get(c[0], 0)), c[6], c[7])
            for c in cases]
