"""The digest's text: every section of DOMAIN.md's "The weekly digest", in the reader's language.

Case figures are aggregates only; numbers and dates go through Babel and Decree 30/2020's style.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core import vocabulary as case_form
from core.config import TargetsConfig
from core.i18n import N_, day, number, official_day, translate
from handlers.forms import outreach as outreach_form
from handlers.menu import ORG_NAMES
from storage import stats
from storage.stats import CommuneRow, Figures, Outreach, Period, next_campaign

FORMAT_LABELS = {o.code: o.label for o in outreach_form.FORMATS}
TOPIC_LABELS = {o.code: o.label for o in outreach_form.TOPICS}
CAMPAIGN_LABELS = {o.code: o.label for o in outreach_form.CAMPAIGNS}
WHOLE_COMMUNE_LABEL = N_("Whole commune / several villages")
KIND_LABELS = {o.code: o.label for o in case_form.KINDS}
FORM_LABELS = {o.code: o.label for o in case_form.FORMS_OF_VIOLENCE}
SEX_LABELS = {o.code: o.label for o in case_form.SEXES}
AGE_LABELS = {o.code: o.label for o in case_form.SUBJECTED_AGES + (case_form.AGE_NOT_KNOWN_LABEL,)}
MEASURE_LABELS = {o.code: o.label for o in case_form.MEASURES}
SUPPORT_LABELS = {o.code: o.label for o in case_form.SUPPORT}
# The official breakdowns (Biểu 01/BC-X, Thông tư 07/2017): Nam before Nữ, age groups in age order,
# labels with "tuổi"; every row printed, zeros too, so two periods line up.
OFFICIAL_SEXES = {"male": N_("Male"), "female": N_("Female")}
OFFICIAL_SUBJECTED_AGES = {
    "u16": N_("under 16 years old"), "16_59": N_("from 16 to under 60 years old"),
    "60p": N_("60 years old and over"),
}
OFFICIAL_PERPETRATOR_AGES = {
    "u16": N_("under 16 years old"), "16_17": N_("from 16 to under 18 years old"),
    "18_59": N_("from 18 to under 60 years old"), "60p": N_("60 years old and over"),
}
OFFICIAL_FORMS = {"psychological": N_("Psychological"), "physical": N_("Physical"), "sexual": N_("Sexual"),
                  "economic": N_("Economic"), "unclear": N_("Not yet clear")}
FLAG_LABELS = {"disabled": N_("with a disability"), "pregnant": N_("pregnant or nursing a child under 36 months")}
UNKNOWN = "unknown"
# Each kind in its own legal words (Law 13/2022/QH15; Law 53/2024/QH15 on trafficking: "nạn nhân",
# "người đang trong quá trình xác định là nạn nhân"). Kinds are never added together.
@dataclass(frozen=True)
class KindWords:
    title: str
    subjected: str
    committed: str
    confirmed: str
    not_of_kind: str
    households: str
    received: str
    confirmed_n: str


KIND_WORDS = {
    "domestic": KindWords(
        title=N_("Domestic violence cases"),
        subjected=N_("People subjected to domestic violence"),
        committed=N_("People who committed domestic violence"),
        confirmed=N_("Confirmed as domestic violence"),
        not_of_kind=N_("Not domestic violence"),
        households=N_("Households with domestic violence"),
        received=N_("{n} suspected cases of domestic violence"),
        confirmed_n=N_("{n} confirmed as domestic violence"),
    ),
    "sexual_abuse": KindWords(
        title=N_("Cases of gender-based violence outside the family or sexual abuse"),
        subjected=N_("People subjected to gender-based violence or sexual abuse"),
        committed=N_("People who committed gender-based violence or sexual abuse"),
        confirmed=N_("Confirmed as gender-based violence outside the family or sexual abuse"),
        not_of_kind=N_("Not gender-based violence or sexual abuse"),
        households="",
        received=N_("{n} suspected cases of gender-based violence outside the family or sexual abuse"),
        confirmed_n=N_("{n} confirmed as gender-based violence or sexual abuse"),
    ),
    "trafficking": KindWords(
        title=N_("Cases of suspected human trafficking"),
        subjected=N_("Victims and people being identified as victims"),
        committed=N_("People suspected of trafficking"),
        confirmed=N_("Identified as a case of human trafficking"),
        not_of_kind=N_("Not human trafficking"),
        households="",
        received=N_("{n} suspected cases of human trafficking"),
        confirmed_n=N_("{n} identified as human trafficking"),
    ),
}


def status_name(code: str, kind: str | None) -> str:
    """A case status's message id; the confirming states are worded by the case's kind."""
    from handlers.myreports import STATUS_NAMES

    words = KIND_WORDS.get(kind or "")
    if words and code == "confirmed_dv":
        return words.confirmed
    if words and code == "not_dv":
        return words.not_of_kind
    return STATUS_NAMES.get(code, code)
# The campaign names as "Coming up" says them (without the dates the form's labels carry).
CAMPAIGN_NAMES = {
    "gender_month": N_("The Action Month for Gender Equality"),
    "dv_month": N_("The Action Month against Domestic Violence"),
    "women_day": N_("International Women's Day"),
    "vn_women_day": N_("Vietnamese Women's Day"),
    "trafficking_day": N_("The Day against Human Trafficking"),
}


class Words:
    """Formatting helpers bound to one language. `small`: case counts of 1 or 2 print as "<3" (the
    province view, digests to subscribers outside the commune)."""

    def __init__(self, lang: str, *, small: bool = False) -> None:
        self.lang = lang
        self.small = small

    def c(self, value: int) -> str:
        """A count of cases or people in cases."""
        return "<3" if self.small and 0 < value < 3 else self.n(value)

    def case_ratio(self, part: int, whole: int) -> str:
        """part/whole (pct) of case counts; no percentage beside a masked count, so none can be undone."""
        if self.small and (0 < part < 3 or 0 < whole < 3):
            return f"{self.c(part)}/{self.c(whole)}"
        return self.ratio(part, whole)

    def t(self, msgid: str, **params) -> str:
        return translate(self.lang, msgid, **params)

    def n(self, value: float | int) -> str:
        return number(self.lang, value)

    def pct(self, value: float | None) -> str:
        return "—" if value is None else number(self.lang, value, 1) + "%"

    def ratio(self, part: int, whole: int) -> str:
        return f"{self.n(part)}/{self.n(whole)}" + (f" ({self.pct(100 * part / whole)})" if whole else "")

    def women(self, o: Outreach) -> str:
        """The women's share in the one pattern every view uses: the part over its base (the
        attendances counted by sex), the percentage, and the attendances not counted beside it."""
        if o.counted:
            text = self.t("women {part}/{base} attendances counted by sex ({pct})", part=self.n(o.female),
                          base=self.n(o.counted), pct=self.pct(100 * o.female / o.counted))
        else:
            text = self.t("no attendances counted by sex")
        if o.total > o.counted:
            text += ", " + self.t("{n} attendances not counted by sex", n=self.n(o.total - o.counted))
        return text

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


ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def title(lang: str, period: Period) -> str:
    """The period's name as a heading says it: week 48/2026, quarter II/2026, 6 months …"""
    w, start = Words(lang), period.start
    if period.kind == "week":
        year, week, _ = start.isocalendar()
        return w.t("WEEKLY DIGEST, WEEK {week}/{year}", week=f"{week:02d}", year=year)
    if period.kind == "month":
        # Decree 30/2020: a two-digit month only for January and February ("THÁNG 01/2027", "THÁNG 6/2026").
        month = f"{start.month:02d}" if start.month < 3 else str(start.month)
        return w.t("FIGURES FOR MONTH {month}/{year}", month=month, year=start.year)
    if period.kind == "quarter":
        return w.t("FIGURES FOR QUARTER {quarter}/{year}", quarter=ROMAN[(start.month + 2) // 3], year=start.year)
    if period.kind == "half":
        return w.t(N_("FIGURES FOR THE FIRST SIX MONTHS OF {year}") if start.month == 1
                   else N_("FIGURES FOR THE LAST SIX MONTHS OF {year}"), year=start.year)
    if period.kind == "year":
        return w.t("FIGURES FOR THE YEAR {year}", year=start.year)
    if period.kind == "reporting_year":
        return w.t("FIGURES FOR THE REPORTING YEAR {year}", year=period.end.year)
    return w.t("FIGURES FOR THE PERIOD")


def heading(lang: str, period: Period, commune_name: str, today: date | None = None) -> str:
    """The title, the dates, and "tính đến ngày …" while the period is not over."""
    dates = span(period)
    if today is not None and today < period.end:
        dates += ", " + translate(lang, "so far, up to {date}", date=official_day(today))
    return f"{title(lang, period)} ({dates}) — {commune_name}"


def as_of(lang: str, moment) -> str:
    """"Số liệu tính đến HH:MM ngày dd/mm/yyyy": late reports and corrections change past figures."""
    return translate(lang, "Figures as of {time} on {date}", time=f"{moment.hour:02d}:{moment.minute:02d}",
                     date=day(moment.date()))


def week_label(key: str) -> str:
    year, week = key.split("-W")
    return f"{week}/{year}"


def _outreach_line(w: Words, o: Outreach) -> str:
    if not o.counted:  # no "nam 0" beside attendances nobody counted by sex
        return w.t("{sessions} sessions, {total} attendances: {women}", sessions=w.n(o.sessions),
                   total=w.n(o.total), women=w.women(o))
    return w.t("{sessions} sessions, {total} attendances: men {male}, {women}",
               sessions=w.n(o.sessions), total=w.n(o.total), male=w.n(o.male), women=w.women(o))


def _table(w: Words, labels: dict, values: dict, *, unknown: str = "") -> tuple[str, int]:
    """Every row of `labels` in its order, zeros too, then the unknown ones if any; and the total."""
    rows = [(w.t(label), values.get(code, 0)) for code, label in labels.items()]
    rest = sum(n for code, n in values.items() if code not in labels)
    if rest:
        rows.append((w.t(unknown or N_("not known")), rest))
    return "; ".join(f"{label} {w.c(n)}" for label, n in rows), sum(n for _, n in rows)


def _people_table(w: Words, people: dict[tuple[str, str], int], ages: dict) -> str:
    """People by sex × age group with a subtotal per sex and the total, in the form's order."""
    parts, total = [], 0
    sexes = dict(OFFICIAL_SEXES)
    if any(sex not in sexes for sex, _ in people):
        sexes[UNKNOWN] = N_("Sex not known")
    for sex, label in sexes.items():
        row, sub = _table(w, ages, {a: n for (s, a), n in people.items() if s == sex}, unknown=N_("age not known"))
        parts.append(w.t("{sex}: {row} — subtotal {n}", sex=w.t(label), row=row, n=w.c(sub)))
        total += sub
    return " | ".join(parts) + " | " + w.t("total {n}", n=w.c(total))


def _flow_line(w: Words, words: KindWords, flow: stats.CaseFlow) -> str:
    return w.t("received {received}; {confirmed_label} {confirmed}; {not_label} {not_of_kind}; still being "
               "verified {verifying}; handled {handled}", received=w.c(flow.received),
               confirmed_label=w.t(words.confirmed).lower(), confirmed=w.c(flow.confirmed),
               not_label=w.t(words.not_of_kind).lower(), not_of_kind=w.c(flow.not_of_kind),
               verifying=w.c(flow.verifying), handled=w.c(flow.handled))


def _partition(w: Words, words: KindWords, flow: stats.CaseFlow) -> str:
    """Each case received counted once, by its latest status: the parts add up to the received."""
    return w.t("received {received} = still being verified {verifying} + {confirmed_label}, being handled "
               "{confirmed} + handled {handled} + {not_label} {not_of_kind}", received=w.c(flow.received),
               verifying=w.c(flow.verifying), confirmed_label=w.t(words.confirmed).lower(),
               confirmed=w.c(flow.confirmed), handled=w.c(flow.handled), not_label=w.t(words.not_of_kind).lower(),
               not_of_kind=w.c(flow.not_of_kind))


def _kind_lines(w: Words, k: stats.KindFigures, number_: str) -> list[str]:
    """One kind's section: received, confirmed, handled, and the official breakdowns of the period."""
    words, c, y = KIND_WORDS[k.kind], k.period, k.flow_ytd
    lines = [f"{number_} {w.t(words.title)}"]
    if not (any(vars(k.flow).values()) or y.received or c.new):
        lines.append(w.t("No cases."))
        return lines
    lines += [
        w.t("This period: {line}", line=_flow_line(w, words, k.flow)),
        w.t("Year to date, each case once by its latest status: {partition}", partition=_partition(w, words, y)),
        w.t("Breakdowns of the cases received this period ({n}), without those found not to be of this kind:",
            n=w.c(c.new)),
    ]
    if words.households:
        lines.append(w.t("{label}: {n} (cases marked “same household as HS-…” in /capnhat count as one "
                         "household; {linked} cases are so marked)", label=w.t(words.households), n=w.c(c.households),
                         linked=w.c(c.linked)))
    forms, _ = _table(w, OFFICIAL_FORMS, c.by_form)
    lines.append(w.t("Forms of violence (cases; a case may have several): {row}", row=forms))
    lines.append(w.t("{label}, by sex and age group: {table}", label=w.t(words.subjected),
                     table=_people_table(w, c.people, OFFICIAL_SUBJECTED_AGES)))
    flags, _ = _table(w, FLAG_LABELS, c.flags)
    lines.append(w.t("of whom: {row}", row=flags))
    by_sex, total = _table(w, OFFICIAL_SEXES, c.perpetrators, unknown=N_("Sex not known"))
    by_age, total_age = _table(w, OFFICIAL_PERPETRATOR_AGES, c.perpetrator_ages, unknown=N_("age not known"))
    lines.append(w.t("{label}: by sex {by_sex} — total {total}; by age group {by_age} — total {total_age}",
                     label=w.t(words.committed), by_sex=by_sex, total=w.c(total), by_age=by_age,
                     total_age=w.c(total_age)))
    if k.kind != "trafficking":
        # The measures of the Law on domestic violence prevention (the form does not ask them of
        # trafficking, which is the police's), and the condition for "góp ý, phê bình" in the community.
        lines.append(w.t("of whom 2 or more times in 12 months and aged 18 or over: {n}", n=w.c(c.repeat_adults)))
        measures, _ = _table(w, MEASURE_LABELS, c.measures)
        lines.append(w.t("Measures applied (cases): {row}", row=measures))
    support, _ = _table(w, SUPPORT_LABELS, c.support)
    lines.append(w.t("Support received, by type (people): {row}", row=support))
    return lines


def _campaign_line(w: Words, c: stats.CampaignFigures) -> str:
    """A campaign's own totals: "kết quả" once it is over, "đến ngày …" while it runs."""
    when = w.t("results") if c.closed else w.t("so far, up to {date}", date=official_day(c.upto))
    days = official_day(c.start) if c.start == c.end else official_day(c.start) + " – " + official_day(c.end)
    return w.t("{campaign} ({days}), {when}: sessions marked as part of it: {tagged}; all sessions held in those "
               "days: {held}", campaign=w.t(CAMPAIGN_NAMES[c.code]), days=days, when=when,
               tagged=_outreach_line(w, c.tagged), held=_outreach_line(w, c.held))


def _org_lines(w: Words, f: Figures) -> list[str]:
    """Completeness and outreach per organisation, as the plan asks each unit to report."""
    if not f.by_org:
        return []
    lines = [w.t("By organisation (reporters who reported this period / reporters enrolled · outreach):")]
    sessions = 0
    for org in [o for o in ORG_NAMES if o in f.by_org] + [o for o in f.by_org if o not in ORG_NAMES]:
        g = f.by_org[org]
        sessions += g.outreach.sessions
        lines.append(w.t("• {org}: {reporting}/{reporters} reporters · {sessions} sessions, {total} attendances",
                         org=w.t(ORG_NAMES.get(org, org)), reporting=w.n(g.reporting), reporters=w.n(g.reporters),
                         sessions=w.n(g.outreach.sessions), total=w.n(g.outreach.total)))
    if f.outreach.sessions > sessions:
        lines.append(w.t("• organisation not recorded: {n} sessions", n=w.n(f.outreach.sessions - sessions)))
    return lines


def _closed_year_lines(w: Words, y: stats.YearFigures) -> list[str]:
    """The final totals of the year a week crossing 31/12 closes."""
    lines = ["", w.t("Final totals of the year {year} ({start} – {end})", year=y.year,
                     start=official_day(date(y.year, 1, 1)), end=official_day(date(y.year, 12, 31))),
             w.t("Outreach: {line}", line=_outreach_line(w, y.outreach))]
    for kind, flow in y.flows.items():
        words = KIND_WORDS[kind]
        lines.append(w.t("{title}: {partition} (status at 31/12)", title=w.t(words.title),
                         partition=_partition(w, words, flow)))
    return lines


def target_for(year: int, targets: TargetsConfig | None = None, indicator: str = "support") -> tuple[int, int]:
    """(year, percent) of the NQ 28 target in force in `year`, from config.toml's [targets]."""
    return (targets or TargetsConfig()).for_year(indicator, year)


def paragraph(lang: str, f: Figures, *, small: bool = False) -> str:
    """The ready-to-paste paragraph in official style."""
    w = Words(lang, small=small)
    first_half = f.period.start.month == 1
    when = {
        "week": w.t("During the week"),
        "month": w.t("During the month"),
        "quarter": w.t("During the quarter"),
        "half": w.t(N_("During the first six months of the year") if first_half
                    else N_("During the last six months of the year")),
        "year": w.t("During the year"),
        "reporting_year": w.t("During the reporting year"),
    }.get(f.period.kind) or w.t("From {start} to {end}", start=official_day(f.period.start),
                                 end=official_day(f.period.end))
    text = w.t(
        "{when}, the commune held {sessions} outreach sessions on gender equality and the prevention of domestic "
        "violence in {reported}/{villages} villages with {total} attendances, of which {women}",
        when=when, sessions=w.n(f.outreach.sessions), reported=w.n(len(f.reported)), villages=w.n(len(f.villages)),
        total=w.n(f.outreach.total), women=w.women(f.outreach),
    )
    if f.period.ytd_start != f.period.start:  # a period that starts the year is its own year to date
        text += w.t("; since the start of the year {sessions} sessions with {total} attendances",
                    sessions=w.n(f.ytd.sessions), total=w.n(f.ytd.total))
    received = [w.t(KIND_WORDS[k.kind].received, n=w.c(k.flow.received)) for k in f.kinds.values()
                if k.flow.received]
    if received:
        text += w.t("; {list} were received and are being handled under the law", list=", ".join(received))
    confirmed = [w.t(KIND_WORDS[k.kind].confirmed_n, n=w.c(k.flow.confirmed)) for k in f.kinds.values()
                 if k.flow.confirmed]
    if confirmed:
        text += w.t("; in the period, {list}", list=", ".join(confirmed))
    return text + "."


def digest_text(lang: str, f: Figures, commune_name: str, *, today: date, missed: list[str] = (),
                small: bool = False, targets: TargetsConfig | None = None) -> str:
    """`small`: for a reader outside the commune, case counts of 1 or 2 print as "<3"."""
    w = Words(lang, small=small)
    lines = [heading(lang, f.period, commune_name, today)]
    if f.computed_at is not None:
        lines.append(as_of(lang, f.computed_at))
    if missed:
        lines.append(w.t("(The digests of weeks {weeks} could not be sent while the system was down; this is the "
                         "latest.)", weeks=", ".join(week_label(k) for k in missed)))
    lines += ["", w.t("1. Reporting"),
              w.t("{reported}/{villages} villages have reported.", reported=w.n(len(f.reported)),
                  villages=w.n(len(f.villages)))]
    if f.not_reported:
        lines.append(w.t("Not yet reported: {list}", list=", ".join(f.not_reported)))
    lines += _org_lines(w, f)
    lines += ["", w.t("2. Outreach"),
              w.t("This period: {line}", line=_outreach_line(w, f.outreach)),
              w.t("Year to date ({start} – {end}): {line}", start=official_day(f.period.ytd_start),
                  end=official_day(min(f.period.end, today)), line=_outreach_line(w, f.ytd)),
              w.t("By format: {list}", list=w.counts(FORMAT_LABELS, {k: v.sessions for k, v in f.by_format.items()})),
              w.t("By topic: {list}", list=w.counts(TOPIC_LABELS, f.by_topic))]
    by_village = []
    for vid, name in f.villages:
        now, ytd = f.village_period.get(vid, Outreach()), f.village_ytd.get(vid, Outreach())
        if now.sessions or ytd.sessions:
            by_village.append(w.t("• {village}: {sessions} sessions, {total} attendances · {ytd} sessions",
                                  village=name, sessions=w.n(now.sessions), total=w.n(now.total),
                                  ytd=w.n(ytd.sessions)))
    if f.commune_wide.sessions or f.commune_wide_ytd.sessions:  # so the lines add up to the total
        by_village.append(w.t("• {village}: {sessions} sessions, {total} attendances · {ytd} sessions",
                              village=w.t(WHOLE_COMMUNE_LABEL), sessions=w.n(f.commune_wide.sessions),
                              total=w.n(f.commune_wide.total), ytd=w.n(f.commune_wide_ytd.sessions)))
    # No session anywhere this year: "none" on the heading's line, as for the format and the topic,
    # never a heading with nothing under it.
    heading_line = w.t("By village (this period · year to date):")
    lines += [heading_line, *by_village] if by_village else [heading_line + " " + w.t("none")]
    thin = f.thin_villages
    if thin:
        lines.append(w.t("Fewer than two sessions this year: {list}",
                         list=", ".join(f"{name} ({w.n(n)})" for name, n in thin)))
    lines += [_campaign_line(w, c) for c in f.campaigns]
    c = f.cases
    lines += ["", w.t("3. Cases (figures only; each kind apart)"),
              w.t("New this period, all kinds: {n} (urgent {urgent}, of them acknowledged {ack})",
                  n=w.c(c.new), urgent=w.c(c.urgent), ack=w.c(c.urgent_acknowledged))]
    unknown_kind = c.new - sum(c.by_kind.get(k, 0) for k in f.kinds)
    if unknown_kind:
        lines.append(w.t("of them not yet given a kind (urgent cases whose form is not finished): {n}",
                         n=w.c(unknown_kind)))
    lines.append(w.t("Open cases: {n}; with no update for 7 days or more: {stale}", n=w.c(f.open_cases),
                     stale=w.c(f.stale_cases)))
    for i, k in enumerate(f.kinds.values(), 1):
        lines += _kind_lines(w, k, f"3.{i}")
    if f.closed_year is not None:
        lines += _closed_year_lines(w, f.closed_year)
    lines += ["", w.t("4. National targets (Resolution 28/NQ-CP), year to date")]
    for label, ratio, indicator, left_out in (
        (N_("2a. People subjected to domestic or gender-based violence who received at least one basic support "
            "service"), f.target_2a, "support",
         N_("not in the base: {n} people whose support is not recorded")),
        (N_("2b. People who committed domestic or gender-based violence, not referred to the investigating "
            "agency, who were counselled"), f.target_2b, "counselling",
         N_("not in the base: {n} (answered “không rõ” or not answered, or referred to the investigating agency)")),
        (N_("3. Victims of trafficking who needed support and received it"), f.target_3, "trafficking_support", ""),
    ):
        year, pct = target_for(f.period.end.year, targets, indicator)
        line = w.t("{label}: {ratio} — target {target}% by {year}", label=w.t(label),
                   ratio=w.case_ratio(ratio.part, ratio.whole), target=pct, year=year)
        if left_out and ratio.left_out:
            line += "; " + w.t(left_out, n=w.c(ratio.left_out))
        lines.append(line)
    code, start = next_campaign(today)
    one_day = stats.campaign_window(code, start.year)[1] == start
    # A one-day observance is "on" its date, a month "starts": the name never repeats the date.
    lines += ["", w.t("5. Coming up"),
              w.t(N_("{campaign} is on {date} — {days} days left.") if one_day
                  else N_("{campaign} starts on {date} — {days} days left."), campaign=w.t(CAMPAIGN_NAMES[code]),
                  date=official_day(start), days=w.n((start - today).days))]
    q = f.quality
    lines += ["", w.t("6. Data quality")]
    problems = []
    if q.mismatched:
        problems.append(w.t("men + women ≠ total: {refs}", refs=", ".join(q.mismatched)))
    if q.uncounted:
        # Which ones, as for the other lines: the office can ask the village heads for the split.
        problems.append(w.t("reports not counted by sex ({n}): {refs}", n=w.n(len(q.uncounted)),
                            refs=", ".join(q.uncounted)))
    if q.undated_cases:
        problems.append(w.t("cases without a date: {n}", n=w.n(q.undated_cases)))
    if q.duplicates:
        problems.append(w.t("likely duplicates: {groups}", groups="; ".join(" = ".join(g) for g in q.duplicates)))
    if q.over_total:
        problems.append(w.t("young people or ethnic minority above the total: {refs}", refs=", ".join(q.over_total)))
    if q.large:
        problems.append(w.t("more than {n} attendances at one session, to check: {refs}",
                            n=w.n(stats.LARGE_SESSION), refs=", ".join(q.large)))
    line = "; ".join(problems)
    lines.append(line[:1].upper() + line[1:] if problems else w.t("No problems found."))
    lines += ["", w.t("7. Paragraph for the report"), paragraph(lang, f, small=small)]
    return "\n".join(lines)


def province_text(lang: str, period: Period, rows: list[CommuneRow], names: dict[str, str], *,
                  computed_at=None) -> str:
    """Every commune side by side: aggregates, never a case; case counts of 1 or 2 print as "<3"."""
    w = Words(lang, small=True)
    lines = [heading(lang, period, w.t("all communes"), computed_at.date() if computed_at else None)]
    if computed_at is not None:
        lines.append(as_of(lang, computed_at))
    lines.append("")
    total = Outreach()
    for r in rows:
        total.add(r.outreach)
        lines.append(w.t("• {commune}: {reported}/{villages} villages reported; {line}; new cases {new}, open {open}",
                         commune=names.get(r.commune_id, r.commune_id), reported=w.n(r.reported),
                         villages=w.n(r.villages), line=_outreach_line(w, r.outreach), new=w.c(r.new_cases),
                         open=w.c(r.open_cases)))
    lines += ["", w.t("Total: {line}", line=_outreach_line(w, total))]
    return "\n".join(lines)
