"""The case vocabulary: every option table of the case form, with its codes (stored, counted) and
labels (message ids). The form asks with it, the alerts and the figures name with it, storage
counts its codes; it lives on the ground floor so that none of them imports another for it."""

from __future__ import annotations

from dataclasses import dataclass

from core.i18n import N_

UNKNOWN_AGE = "unknown"  # what an age step stores for "không rõ"


@dataclass(frozen=True)
class Option:
    code: str
    label: str  # a message id, translated when shown


YES_NO = (Option("yes", N_("Yes")), Option("no", N_("No")))
YES_NO_UNKNOWN = (Option("yes", N_("Yes")), Option("no", N_("No")), Option("unknown", N_("Unknown")))
SOURCES = (
    Option("self", N_("Found out myself")),
    Option("subjected", N_("The person subjected told me")),
    Option("relative", N_("A relative or neighbour told me")),
    Option("school", N_("School")),
    Option("health", N_("Health facility")),
    Option("hotline", N_("Hotline")),
    Option("other", N_("Other")),
)
KINDS = (
    Option("domestic", N_("Domestic violence")),
    Option("sexual_abuse", N_("Gender-based violence outside the family / sexual abuse")),
    Option("trafficking", N_("Suspected human trafficking")),
)
FORMS_OF_VIOLENCE = (
    Option("physical", N_("Physical")),
    Option("psychological", N_("Psychological")),
    Option("sexual", N_("Sexual")),
    Option("economic", N_("Economic")),
    Option("unclear", N_("Not yet clear")),
)
SEXES = (Option("female", N_("Female")), Option("male", N_("Male")))
SUBJECTED_AGES = (Option("u16", N_("Under 16")), Option("16_59", N_("16–59")), Option("60p", N_("60 and over")))
PERPETRATOR_AGES = (
    Option("u16", N_("Under 16")), Option("16_17", N_("16–17")), Option("18_59", N_("18–59")),
    Option("60p", N_("60 and over")),
)
# The legal age groups (Biểu 01/BC-X): from which age each starts. Ages are asked as a number and
# only the group is kept: an exact age beside a village can identify a child.
SUBJECTED_AGE_GROUPS = ((0, "u16"), (16, "16_59"), (60, "60p"))
PERPETRATOR_AGE_GROUPS = ((0, "u16"), (16, "16_17"), (18, "18_59"), (60, "60p"))
AGE_NOT_KNOWN = (Option(UNKNOWN_AGE, N_("Unknown")),)  # the button beside the typed age
AGE_NOT_KNOWN_LABEL = Option(UNKNOWN_AGE, N_("Age not known"))  # how figures and alerts name it
FLAGS = (
    Option("disabled", N_("Has a disability")),
    Option("pregnant", N_("Pregnant or nursing a child under 36 months")),
    Option("none", N_("Neither")),
)
RELATIONSHIPS = (
    Option("spouse", N_("Wife / husband")), Option("parent", N_("Father / mother")), Option("child", N_("Child")),
    Option("grandparent", N_("Grandparent")), Option("grandchild", N_("Grandchild")), Option("sibling", N_("Sibling")),
    Option("divorced", N_("Former spouse")), Option("cohabiting", N_("Living together as spouses")),
    Option("other", N_("Other")),
)
REPEAT = (Option("first", N_("First time")), Option("repeat", N_("2 or more times in 12 months")))
MEASURES = (
    Option("stop_order", N_("Ordered to stop the violence")),
    Option("summoned", N_("Asked to come to the commune police")),
    Option("mediation", N_("Grassroots mediation")),
    Option("community_criticism", N_("Community comment and criticism")),
    Option("no_contact", N_("No-contact order")),
    Option("behaviour_change", N_("Education, support to change behaviour")),
    Option("community_service", N_("Community service")),
    Option("fined", N_("Administrative fine")),
    Option("investigation", N_("Referred to the investigating agency")),
    Option("none", N_("None yet")),
)
SUPPORT = (
    Option("medical", N_("Medical care")),
    Option("counselling", N_("Psychological counselling")),
    Option("legal", N_("Legal aid")),
    Option("shelter", N_("Temporary shelter / trusted address")),
    Option("essentials", N_("Essential needs")),
    Option("none", N_("No support yet")),
)
TOLD = (
    Option("chairman", N_("Chairman of the commune People's Committee")),
    Option("police", N_("Commune police")),
    Option("office", N_("Culture-society office")),
    Option("womens_union", N_("Women's Union")),
    Option("health_station", N_("Health station")),
    Option("school", N_("School")),
    Option("nobody", N_("Nobody yet")),
)
CONSENT = (
    Option("agreed", N_("Agrees")),
    Option("refused", N_("Does not agree")),
    Option("not_asked", N_("Could not ask yet")),
)

CASE_KINDS = tuple(o.code for o in KINDS)
