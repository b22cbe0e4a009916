"""An official statistics form as data: numbered rows with a unit, each a figure, a sum of the rows
under it, or a share of two rows. handlers/office/forms/ holds one file per form, naming its source
document; handlers/office/files.py writes the form named FORM there, and `values()` turns the
digest's figures (storage/stats.py) into the numbers its rows name.

The layout never depends on the data: every row is written, zeros too, so two periods line up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.i18n import N_
from storage.stats import Figures

# Units, as the official forms print them (Vụ / Người / Hộ / Buổi / Lượt người).
CASES = N_("Cases (unit)")
PEOPLE = N_("People (unit)")
HOUSEHOLDS = N_("Households (unit)")
SESSIONS = N_("Sessions (unit)")
ATTENDANCES = N_("Attendances (unit)")
VILLAGES = N_("Villages (unit)")
PERCENT = "%"


@dataclass(frozen=True)
class Row:
    """One line of the form. `key`: the figure it shows (see values()); `total`: the sum of the rows
    numbered directly under it (2 → 2.1, 2.2), written as a formula; `share`: (part, whole) as the
    numbers of two rows, written as a formula. `ytd_only`: a figure that exists only for the year."""

    stt: str
    label: str
    unit: str = ""
    key: str | None = None
    total: bool = False
    share: tuple[str, str] | None = None
    ytd_only: bool = False


@dataclass(frozen=True)
class Section:
    """A heading line (I, II, …); its rows number from 1 again. `cases`: its figures count cases or
    people in cases, so a reader outside the commune sees 1 and 2 as "<3"."""

    stt: str
    label: str
    cases: bool = False


@dataclass(frozen=True)
class Form:
    code: str  # "01/BC-X"
    source: str  # the document that defines the form (a msgid)
    title: str  # msgid
    rows: tuple[Row | Section, ...]
    note: str = ""  # msgid printed under the table: what the rows count
    villages_per_year: int = 2  # the outreach reference the chart draws (QĐ 1790: 2 sessions per village a year)
    extra: dict = field(default_factory=dict)


SEX_ROWS = (("male", N_("Male")), ("female", N_("Female")), ("unknown", N_("Sex not known")))
SUBJECTED_AGE_ROWS = (
    ("u16", N_("under 16 years old")), ("16_59", N_("from 16 to under 60 years old")),
    ("60p", N_("60 years old and over")), ("unknown", N_("age not known")),
)
PERPETRATOR_AGE_ROWS = (
    ("u16", N_("under 16 years old")), ("16_17", N_("from 16 to under 18 years old")),
    ("18_59", N_("from 18 to under 60 years old")), ("60p", N_("60 years old and over")),
    ("unknown", N_("age not known")),
)


def people_by_sex_and_age(stt: str, label: str, prefix: str) -> tuple[Row, ...]:
    """People subjected: a total, by sex (Nam before Nữ), each by age group in age order."""
    rows = [Row(stt, label, PEOPLE, total=True)]
    for i, (sex, sex_label) in enumerate(SEX_ROWS, 1):
        rows.append(Row(f"{stt}.{i}", sex_label, PEOPLE, total=True))
        for j, (age, age_label) in enumerate(SUBJECTED_AGE_ROWS, 1):
            rows.append(Row(f"{stt}.{i}.{j}", age_label, PEOPLE, key=f"{prefix}.subjected.{sex}.{age}"))
    return tuple(rows)


def coded_rows(stt: str, prefix: str, labels, unit: str) -> tuple[Row, ...]:
    return tuple(Row(f"{stt}.{i}", label, unit, key=f"{prefix}.{code}") for i, (code, label) in enumerate(labels, 1))


KIND_PREFIX = {"domestic": "dv", "sexual_abuse": "gbv", "trafficking": "tr"}


def _flat(out: dict, prefix: str, values: dict) -> None:
    for code, n in values.items():
        out[f"{prefix}.{code}"] = n


def values(f: Figures) -> tuple[dict[str, int], dict[str, int]]:
    """(this period, year to date): every figure a form row may name, by key. Keys that are not here
    count 0: a row whose answer nobody gave is a zero row, not a missing one."""
    columns = []
    for outreach, villages, cases_attr, flow_attr in (
        (f.outreach, f.village_period, "period", "flow"), (f.ytd, f.village_ytd, "ytd", "flow_ytd"),
    ):
        out: dict[str, int] = {
            "outreach.sessions": outreach.sessions,
            "outreach.counted": outreach.counted,
            "outreach.uncounted": outreach.total - outreach.counted,
            "outreach.male": outreach.male,
            "outreach.female": outreach.female,
            "villages.count": len(f.villages),
            "villages.held": sum(1 for vid, _ in f.villages if villages.get(vid) and villages[vid].sessions),
            "villages.two": sum(1 for vid, _ in f.villages if villages.get(vid) and villages[vid].sessions >= 2),
        }
        for kind, k in (getattr(f, "kinds", None) or {}).items():
            p = KIND_PREFIX.get(kind, kind)
            flow, cases = getattr(k, flow_attr), getattr(k, cases_attr)
            for name in ("received", "confirmed", "not_of_kind", "verifying", "handled", "ever_confirmed"):
                out[f"{p}.{name}"] = getattr(flow, name)
            out[f"{p}.households"] = cases.households
            _flat(out, f"{p}.form", cases.by_form)
            _flat(out, f"{p}.committed.sex", {s or "unknown": n for s, n in cases.perpetrators.items()})
            _flat(out, f"{p}.committed.age", cases.perpetrator_ages)
            _flat(out, f"{p}.measure", cases.measures)
            _flat(out, f"{p}.support", cases.support)
            _flat(out, f"{p}.flag", cases.flags)
            for (sex, age), n in cases.people.items():
                out[f"{p}.subjected.{sex or 'unknown'}.{age or 'unknown'}"] = n
        columns.append(out)
    # Resolution 28/NQ-CP's indicators are counted over the year only (storage/stats.py).
    for name in ("target_2a", "target_2b", "target_3"):
        ratio = getattr(f, name, None)
        if ratio is not None:
            columns[1][f"{name}.part"], columns[1][f"{name}.whole"] = ratio.part, ratio.whole
    return columns[0], columns[1]


def sections(form) -> list[tuple[Section | None, list]]:
    """The form's rows under their sections (the rows before the first section under None)."""
    out: list[tuple[Section | None, list]] = [(None, [])]
    for item in form.rows:
        if isinstance(item, Section):
            out.append((item, []))
        else:
            out[-1][1].append(item)
    return out
