"""Biểu số 01/BC-X: the commune's statistics on domestic violence prevention, Thông tư
23/2011/TT-BVHTTDL, with the support types and age groups Thông tư 07/2017/TT-BVHTTDL added; an
outreach part (sessions, attendances by sex, villages against QĐ 1790's two sessions a year) and
the Resolution 28/NQ-CP indicators the province asks beside it.

The rows are data: a province that uses a newer form gets a new file like this one, named in
handlers/office/forms/__init__.py. Keys are those of report_form.values(). Each kind of case has
its own part, in its own legal words; kinds are never added together.
"""

from __future__ import annotations

from core.i18n import N_
from handlers.office.report_form import (
    ATTENDANCES,
    CASES,
    HOUSEHOLDS,
    PEOPLE,
    PERCENT,
    PERPETRATOR_AGE_ROWS,
    SESSIONS,
    SEX_ROWS,
    VILLAGES,
    Form,
    Row,
    Section,
    coded_rows,
    people_by_sex_and_age,
)

# The form's order: tinh thần, thể chất, tình dục, kinh tế.
FORMS_OF_VIOLENCE = (
    ("psychological", N_("Psychological")), ("physical", N_("Physical")), ("sexual", N_("Sexual")),
    ("economic", N_("Economic")), ("unclear", N_("Not yet clear")),
)
# Law 13/2022/QH15, art. 21–33, in the law's order.
MEASURES = (
    ("stop_order", N_("Ordered to stop the violence")),
    ("summoned", N_("Asked to come to the commune police")),
    ("mediation", N_("Grassroots mediation")),
    ("community_criticism", N_("Community comment and criticism")),
    ("no_contact", N_("No-contact order")),
    ("behaviour_change", N_("Education, support to change behaviour")),
    ("community_service", N_("Community service")),
    ("fined", N_("Administrative fine")),
    ("investigation", N_("Referred to the investigating agency")),
    ("none", N_("None yet")),
)
SUPPORT = (
    ("medical", N_("Medical care")),
    ("counselling", N_("Psychological counselling")),
    ("legal", N_("Legal aid")),
    ("shelter", N_("Temporary shelter / trusted address")),
    ("essentials", N_("Essential needs")),
    ("none", N_("No support yet")),
)
FLAGS = (("disabled", N_("People with a disability")),
         ("pregnant", N_("Pregnant or nursing a child under 36 months")))


def _kind_flow(prefix: str, received: str, confirmed: str, not_of_kind: str) -> tuple[Row, ...]:
    return (
        Row("1", received, CASES, key=f"{prefix}.received"),
        Row("2", confirmed, CASES, key=f"{prefix}.ever_confirmed"),
        Row("3", not_of_kind, CASES, key=f"{prefix}.not_of_kind"),
        Row("4", N_("Still being verified at the end of the period"), CASES, key=f"{prefix}.verifying"),
        Row("5", N_("Cases handled"), CASES, key=f"{prefix}.handled"),
    )


FORM = Form(
    code="01/BC-X",
    source=N_("Form 01/BC-X, Circular 23/2011/TT-BVHTTDL; support by type and age groups as in Circular "
              "07/2017/TT-BVHTTDL"),
    title=N_("STATISTICS ON GENDER-EQUALITY OUTREACH AND DOMESTIC VIOLENCE PREVENTION"),
    note=N_("Cases received: reported in the period. Confirmed, found not to be of their kind and handled: the "
            "status was set in the period; year to date, each case counts once, by its latest status, and the "
            "confirmed cases include those since handled. The "
            "breakdowns count the cases received and not found to be of another kind; a case may have several "
            "forms of violence, measures and kinds of support."),
    rows=(
        Section("I", N_("OUTREACH")),
        Row("1", N_("Outreach sessions"), SESSIONS, key="outreach.sessions"),
        Row("2", N_("Attendances at the sessions"), ATTENDANCES, total=True),
        Row("2.1", N_("Counted by sex"), ATTENDANCES, key="outreach.counted"),
        Row("2.1.1", N_("Male"), ATTENDANCES, key="outreach.male"),
        Row("2.1.2", N_("Female"), ATTENDANCES, key="outreach.female"),
        Row("2.2", N_("Not counted by sex"), ATTENDANCES, key="outreach.uncounted"),
        Row("3", N_("Share of women among the attendances counted by sex (2.1.2 / 2.1)"), PERCENT,
            share=("2.1.2", "2.1")),
        Row("4", N_("Villages of the commune"), VILLAGES, key="villages.count"),
        Row("5", N_("Villages that held at least one session"), VILLAGES, key="villages.held"),
        Row("6", N_("Villages that held 2 sessions or more (QĐ 1790: 2 sessions per village a year)"), VILLAGES,
            key="villages.two"),

        Section("II", N_("DOMESTIC VIOLENCE"), cases=True),
        *_kind_flow("dv", N_("Suspected domestic violence cases received"),
                    N_("Total cases of domestic violence (confirmed)"), N_("Found not to be domestic violence")),
        Row("6", N_("Households with domestic violence (a case and those marked as the same household count once)"),
            HOUSEHOLDS, key="dv.households"),
        Row("7", N_("Forms of violence"), CASES),
        *coded_rows("7", "dv.form", FORMS_OF_VIOLENCE, CASES),
        Row("8", N_("People who committed domestic violence, by sex"), PEOPLE, total=True),
        *coded_rows("8", "dv.committed.sex", SEX_ROWS, PEOPLE),
        Row("9", N_("People who committed domestic violence, by age group"), PEOPLE, total=True),
        *coded_rows("9", "dv.committed.age", PERPETRATOR_AGE_ROWS, PEOPLE),
        Row("10", N_("Measures applied to the people who committed it"), PEOPLE),
        *coded_rows("10", "dv.measure", MEASURES, PEOPLE),
        *people_by_sex_and_age("11", N_("People subjected to domestic violence"), "dv"),
        Row("12", N_("People subjected to domestic violence, of whom"), PEOPLE),
        *coded_rows("12", "dv.flag", FLAGS, PEOPLE),
        Row("13", N_("People subjected to domestic violence who received support, by type"), PEOPLE),
        *coded_rows("13", "dv.support", SUPPORT, PEOPLE),

        Section("III", N_("GENDER-BASED VIOLENCE OUTSIDE THE FAMILY, SEXUAL ABUSE"), cases=True),
        *_kind_flow("gbv", N_("Cases received"), N_("Confirmed as gender-based violence or sexual abuse"),
                    N_("Found not to be gender-based violence or sexual abuse")),
        Row("6", N_("People who committed it, by sex"), PEOPLE, total=True),
        *coded_rows("6", "gbv.committed.sex", SEX_ROWS, PEOPLE),
        *people_by_sex_and_age("7", N_("People subjected to gender-based violence or sexual abuse"), "gbv"),
        Row("8", N_("People subjected who received support, by type"), PEOPLE),
        *coded_rows("8", "gbv.support", SUPPORT, PEOPLE),

        Section("IV", N_("SUSPECTED HUMAN TRAFFICKING"), cases=True),
        *_kind_flow("tr", N_("Cases received"), N_("Identified as human trafficking"),
                    N_("Found not to be human trafficking")),
        *people_by_sex_and_age("6", N_("Victims and people being identified as victims"), "tr"),
        Row("7", N_("Victims and people being identified as victims who received support, by type"), PEOPLE),
        *coded_rows("7", "tr.support", SUPPORT, PEOPLE),

        Section("V", N_("NATIONAL TARGETS (RESOLUTION 28/NQ-CP), YEAR TO DATE"), cases=True),
        Row("1", N_("2a. People subjected to domestic or gender-based violence whose support was recorded"), PEOPLE,
            key="target_2a.whole", ytd_only=True),
        Row("1.1", N_("of whom received at least one basic support service"), PEOPLE, key="target_2a.part",
            ytd_only=True),
        Row("1.2", N_("Share (1.1 / 1)"), PERCENT, share=("1.1", "1"), ytd_only=True),
        Row("2", N_("2b. People who committed it, not referred for prosecution, answered yes or no"), PEOPLE,
            key="target_2b.whole", ytd_only=True),
        Row("2.1", N_("of whom were counselled"), PEOPLE, key="target_2b.part", ytd_only=True),
        Row("2.2", N_("Share (2.1 / 2)"), PERCENT, share=("2.1", "2"), ytd_only=True),
        Row("3", N_("3. Trafficking victims who needed support"), PEOPLE, key="target_3.whole", ytd_only=True),
        Row("3.1", N_("of whom received it"), PEOPLE, key="target_3.part", ytd_only=True),
        Row("3.2", N_("Share (3.1 / 3)"), PERCENT, share=("3.1", "3"), ytd_only=True),
    ),
)
