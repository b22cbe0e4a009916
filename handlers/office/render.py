"""The digest's text: every section of DOMAIN.md's "The weekly digest", in the reader's language.

Case figures are aggregates only; numbers and dates go through Babel and Decree 30/2020's style.
"""

from __future__ import annotations

from datetime import date

from bot.i18n import N_, number, official_day, translate
from handlers.forms import case as case_form
from handlers.forms import outreach as outreach_form
from storage import stats
from storage.stats import CaseFigures, CommuneRow, Figures, Outreach, Period, next_campaign

FORMAT_LABELS = {o.code: o.label for o in outreach_form.FORMATS}
TOPIC_LABELS = {o.code: o.label for o in outreach_form.TOPICS}
CAMPAIGN_LABELS = {o.code: o.label for o in outreach_form.CAMPAIGNS}
KIND_LABELS = {o.code: o.label for o in case_form.KINDS}
FORM_LABELS = {o.code: o.label for o in case_form.FORMS_OF_VIOLENCE}
SEX_LABELS = {o.code: o.label for o in case_form.SEXES}
AGE_LABELS = {o.code: o.label for o in case_form.SUBJECTED_AGES + (case_form.AGE_NOT_KNOWN_LABEL,)}
MEASURE_LABELS = {o.code: o.label for o in case_form.MEASURES}
# The campaign names as "Coming up" says them (without the dates the form's labels carry).
CAMPAIGN_NAMES = {
    "gender_month": N_("The Action Month for Gender Equality"),
    "dv_month": N_("The Action Month against Domestic Violence"),
    "women_day": N_("International Women's Day"),
    "vn_women_day": N_("Vietnamese Women's Day"),
    "trafficking_day": N_("The Day against Human Trafficking"),
}
# Resolution 28/NQ-CP: (year, support %, counselling %); the target in force is the first not yet past.
TARGETS = ((2025, 80, 50), (2030, 90, 70))


class Words:
    """Formatting helpers bound to one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def t(self, msgid: str, **params) -> str:
        return translate(self.lang, msgid, **params)

    def n(self, value: float | int) -> str:
        return number(self.lang, value)

    def pct(self, value: float | None) -> str:
        return "—" if value is None else number(self.lang, value, 1) + "%"

    def ratio(self, part: int, whole: int) -> str:
        return f"{self.n(part)}/{self.n(whole)}" + (f" ({self.pct(100 * part / whole)})" if whole else "")

    def counts(self, labels: dict, values: dict) -> str:
        order = list(labels) + [k for k in values if k not in labels]
        parts = [f"{self.t(labels.get(k, k))}: {self.n(values[k])}" for k in order if values.get(k)]
        return "; ".join(parts) or self.t("none")


def span(period: Period) -> str:
    """'23/11 – 29/11/2026', or with both years when the period spans the year end."""
    end = official_day(period.end)
    if period.start.year == period.end.year:
        return official_day(period.start).rsplit("/", 1)[0] + " – " + end
    return official_day(period.start) + " – " + end


def heading(lang: str, period: Period, commune_name: str) -> str:
    w = Words(lang)
    if period.kind == "week":
        year, week, _ = period.start.isocalendar()
        title = w.t("WEEKLY DIGEST, WEEK {week}/{year}", week=f"{week:02d}", year=year)
    elif period.kind == "month":
        title = w.t("FIGURES FOR MONTH {month}/{year}", month=f"{period.start.month:02d}", year=period.start.year)
    else:
        title = w.t("FIGURES FOR THE PERIOD")
    return f"{title} ({span(period)}) — {commune_name}"


def week_label(key: str) -> str:
    year, week = key.split("-W")
    return f"{week}/{year}"


def _outreach_line(w: Words, o: Outreach) -> str:
    return w.t("{sessions} sessions, {total} attendances (men {male}, women {female}; women {share})",
               sessions=w.n(o.sessions), total=w.n(o.total), male=w.n(o.male), female=w.n(o.female),
               share=w.pct(o.female_share))


def _cases_lines(w: Words, c: CaseFigures) -> list[str]:
    people = {f"{w.t(SEX_LABELS.get(s, s))}, {w.t(AGE_LABELS.get(a, a))}": n for (s, a), n in sorted(c.people.items())}
    return [
        w.t("New this period: {n} (urgent {urgent}, of them acknowledged {ack})",
            n=w.n(c.new), urgent=w.n(c.urgent), ack=w.n(c.urgent_acknowledged)),
        w.t("By kind: {list}", list=w.counts(KIND_LABELS, c.by_kind)),
        w.t("By form of violence: {list}", list=w.counts(FORM_LABELS, c.by_form)),
        w.t("People subjected (sex, age group): {list}", list=w.counts({}, people)),
        w.t("People who committed it, by sex: {list}", list=w.counts(SEX_LABELS, c.perpetrators)),
        w.t("Measures applied: {list}", list=w.counts(MEASURE_LABELS, c.measures)),
    ]


def target_for(year: int) -> tuple[int, int, int]:
    return next((t for t in TARGETS if year <= t[0]), TARGETS[-1])


def paragraph(lang: str, f: Figures) -> str:
    """The ready-to-paste paragraph in official style."""
    w = Words(lang)
    when = {
        "week": w.t("During the week"),
        "month": w.t("During the month"),
    }.get(f.period.kind) or w.t("From {start} to {end}", start=official_day(f.period.start),
                                 end=official_day(f.period.end))
    text = w.t(
        "{when}, the commune held {sessions} outreach sessions on gender equality and the prevention of domestic "
        "violence in {reported}/{villages} villages with {total} attendances (women {female}, {share})",
        when=when, sessions=w.n(f.outreach.sessions), reported=w.n(len(f.reported)), villages=w.n(len(f.villages)),
        total=w.n(f.outreach.total), female=w.n(f.outreach.female), share=w.pct(f.outreach.female_share),
    )
    text += w.t("; since the start of the year {sessions} sessions with {total} attendances",
                sessions=w.n(f.ytd.sessions), total=w.n(f.ytd.total))
    if f.cases.new:
        text += w.t("; {n} suspected cases of domestic violence were received and are being handled under the law",
                    n=w.n(f.cases.new))
    return text + "."


def digest_text(lang: str, f: Figures, commune_name: str, *, today: date, missed: list[str] = ()) -> str:
    w = Words(lang)
    lines = [heading(lang, f.period, commune_name)]
    if missed:
        lines.append(w.t("(The digests of weeks {weeks} could not be sent while the system was down; this is the "
                         "latest.)", weeks=", ".join(week_label(k) for k in missed)))
    lines += ["", w.t("1. Reporting"),
              w.t("{reported}/{villages} villages have reported.", reported=w.n(len(f.reported)),
                  villages=w.n(len(f.villages)))]
    if f.not_reported:
        lines.append(w.t("Not yet reported: {list}", list=", ".join(f.not_reported)))
    lines += ["", w.t("2. Outreach"),
              w.t("This period: {line}", line=_outreach_line(w, f.outreach)),
              w.t("Year to date ({start} – {end}): {line}", start=official_day(f.period.ytd_start),
                  end=official_day(f.period.end), line=_outreach_line(w, f.ytd)),
              w.t("By format: {list}", list=w.counts(FORMAT_LABELS, {k: v.sessions for k, v in f.by_format.items()})),
              w.t("By topic: {list}", list=w.counts(TOPIC_LABELS, f.by_topic)),
              w.t("By village (this period · year to date):")]
    for vid, name in f.villages:
        now, ytd = f.village_period.get(vid, Outreach()), f.village_ytd.get(vid, Outreach())
        if now.sessions or ytd.sessions:
            lines.append(w.t("• {village}: {sessions} sessions, {total} attendances · {ytd} sessions",
                             village=name, sessions=w.n(now.sessions), total=w.n(now.total), ytd=w.n(ytd.sessions)))
    thin = f.thin_villages
    if thin:
        lines.append(w.t("Fewer than two sessions this year: {list}",
                         list=", ".join(f"{name} ({w.n(n)})" for name, n in thin)))
    if f.campaign is not None:
        code, start, end, so_far, tagged = f.campaign
        lines.append(w.t("{campaign} ({start} – {end}) so far: {line}; marked as part of it: {tagged}",
                         campaign=w.t(CAMPAIGN_NAMES[code]), start=official_day(start), end=official_day(end),
                         line=_outreach_line(w, so_far), tagged=w.n(tagged)))
    lines += ["", w.t("3. Cases (figures only)")] + _cases_lines(w, f.cases)
    lines += [
        w.t("Open cases: {n}; with no update for 7 days or more: {stale}", n=w.n(f.open_cases),
            stale=w.n(f.stale_cases)),
        w.t("People who committed it 2 or more times in 12 months, aged 18 or over: {n} (this period), {ytd} "
            "(year to date)", n=w.n(f.cases.repeat_adults), ytd=w.n(f.cases_ytd.repeat_adults)),
    ]
    year, support_target, counsel_target = target_for(f.period.end.year)
    lines += ["", w.t("4. National targets, year to date"),
              w.t("People subjected who received at least one support service: {ratio} — target {target}% by {year}",
                  ratio=w.ratio(*f.supported), target=support_target, year=year),
              w.t("People who committed it who were counselled: {ratio} — target {target}% by {year}",
                  ratio=w.ratio(*f.counselled), target=counsel_target, year=year)]
    code, start = next_campaign(today)
    lines += ["", w.t("5. Coming up"),
              w.t("{campaign} starts on {date} — {days} days left.", campaign=w.t(CAMPAIGN_NAMES[code]),
                  date=official_day(start), days=w.n((start - today).days))]
    q = f.quality
    lines += ["", w.t("6. Data quality")]
    problems = []
    if q.mismatched:
        problems.append(w.t("men + women ≠ total: {refs}", refs=", ".join(q.mismatched)))
    if q.uncounted:
        problems.append(w.t("reports not counted by sex: {n}", n=w.n(q.uncounted)))
    if q.undated_cases:
        problems.append(w.t("cases without a date: {n}", n=w.n(q.undated_cases)))
    if q.duplicates:
        problems.append(w.t("likely duplicates: {groups}", groups="; ".join(" = ".join(g) for g in q.duplicates)))
    if q.over_total:
        problems.append(w.t("young people or ethnic minority above the total: {refs}", refs=", ".join(q.over_total)))
    if q.large:
        problems.append(w.t("more than {n} attendances at one session, to check: {refs}",
                            n=w.n(stats.LARGE_SESSION), refs=", ".join(q.large)))
    lines.append("; ".join(problems) if problems else w.t("No problems found."))
    lines += ["", w.t("7. Paragraph for the report"), paragraph(lang, f)]
    return "\n".join(lines)


def province_text(lang: str, period: Period, rows: list[CommuneRow], names: dict[str, str]) -> str:
    """Every commune side by side: aggregates, never a case."""
    w = Words(lang)
    lines = [heading(lang, period, w.t("all communes")), ""]
    total = Outreach()
    for r in rows:
        total.add(r.outreach)
        lines.append(w.t("• {commune}: {reported}/{villages} villages reported; {line}; new cases {new}, open {open}",
                         commune=names.get(r.commune_id, r.commune_id), reported=w.n(r.reported),
                         villages=w.n(r.villages), line=_outreach_line(w, r.outreach), new=w.n(r.new_cases),
                         open=w.n(r.open_cases)))
    lines += ["", w.t("Total: {line}", line=_outreach_line(w, total))]
    return "\n".join(lines)
