"""Cases: coded answers stored countable, free text stored encrypted, reads checked and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import Keyring
from storage.models import AuditEntry, Case, CaseCode, CasePerson, CaseStatusChange, CaseText, Person, PersonRole
from storage.people import Profile
from storage.reports import next_ref

DETAILS_AFTER = timedelta(minutes=15)
SCALAR_FIELDS = (
    "village_id", "source", "kind", "people_count", "perpetrator_sex", "perpetrator_age", "relationship",
    "repeat", "fined_before", "perpetrator_counselled", "consent", "needs_support",
)
CODE_FIELDS = ("forms", "measures", "support", "told")
POLICE_KINDS = ("trafficking", "sexual_abuse")
STATUSES = ("new", "verifying", "confirmed_dv", "not_dv", "handling", "handled", "monitoring", "closed")


async def open_urgent_case(session: AsyncSession, *, commune_id: str, reporter_id: int, now: datetime) -> Case:
    """Created the moment the reporter says someone is in danger, before any other question."""
    case = Case(
        ref=await next_ref(session, commune_id, "HS", now.year), commune_id=commune_id, reporter_id=reporter_id,
        urgent=True, created_at=now, updated_at=now, status="new", details_due_at=now + DETAILS_AFTER,
        police_routed=True,
    )
    session.add(case)
    await session.flush()
    session.add(CaseStatusChange(case_id=case.id, status="new", at=now, by_id=reporter_id))
    return case


async def open_case(session: AsyncSession, *, commune_id: str, reporter_id: int, now: datetime) -> Case:
    case = Case(
        ref=await next_ref(session, commune_id, "HS", now.year), commune_id=commune_id, reporter_id=reporter_id,
        urgent=False, created_at=now, updated_at=now, status="new",
    )
    session.add(case)
    await session.flush()
    session.add(CaseStatusChange(case_id=case.id, status="new", at=now, by_id=reporter_id))
    return case


def set_status(session: AsyncSession, case: Case, status: str, *, now: datetime, by_id: int | None) -> None:
    """The one place a case's status changes: the history row says when (the figures count from it)."""
    case.status, case.updated_at = status, now
    session.add(CaseStatusChange(case_id=case.id, status=status, at=now, by_id=by_id))


def routed_to_police(case: Case, forms: list[str]) -> bool:
    """Urgent, trafficking and sexual violence go to the police whatever the consent."""
    return case.urgent or case.kind in POLICE_KINDS or "sexual" in forms


async def apply_coded(session: AsyncSession, case: Case, answers: dict, *, now: datetime) -> None:
    """Write the coded answers given so far (a partial form is fine) into columns and child rows."""
    for field in SCALAR_FIELDS:
        value = answers.get(field)
        setattr(case, field, value if isinstance(value, (str, int)) else None)
    occurred = answers.get("occurred_on")
    case.occurred_on = date.fromisoformat(occurred) if isinstance(occurred, str) and len(occurred) == 10 else None
    await session.execute(delete(CaseCode).where(CaseCode.case_id == case.id))
    for field in CODE_FIELDS:
        for code in dict.fromkeys(answers.get(field) or []):
            session.add(CaseCode(case_id=case.id, field=field, code=code))
    await session.execute(delete(CasePerson).where(CasePerson.case_id == case.id))
    for i, person in enumerate(answers.get("people") or []):
        flags = person.get("flags") or []
        session.add(
            CasePerson(
                case_id=case.id, position=i + 1, sex=person.get("sex"), age_group=person.get("age_group"),
                disabled="disabled" in flags, pregnant_or_nursing="pregnant" in flags,
            )
        )
    case.police_routed = routed_to_police(case, list(answers.get("forms") or []))
    case.updated_at = now
    await session.flush()


def add_text(session: AsyncSession, keyring: Keyring, case: Case, kind: str, text: str, *,
             author_id: int | None, now: datetime) -> None:
    session.add(CaseText(case_id=case.id, kind=kind, author_id=author_id, created_at=now,
                         ciphertext=keyring.encrypt_text(text)))


async def recipients(session: AsyncSession, case: Case, *, with_police: bool) -> list[tuple[int, str]]:
    """(person, role) to alert: leaders and the office always; the police where routed."""
    roles = ["leader", "office"] + (["police"] if with_police else [])
    rows = await session.execute(
        select(Person.id, PersonRole.role)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.commune_id == case.commune_id, Person.active.is_(True), PersonRole.role.in_(roles))
        .order_by(Person.id)
    )
    seen: dict[int, str] = {}
    for person_id, role in rows:
        if person_id not in seen or role == "police":
            seen[person_id] = role
    return list(seen.items())


async def codes_of(session: AsyncSession, case_id: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {f: [] for f in CODE_FIELDS}
    for field, code in await session.execute(
        select(CaseCode.field, CaseCode.code).where(CaseCode.case_id == case_id)
    ):
        out.setdefault(field, []).append(code)
    return out


async def people_of(session: AsyncSession, case_id: int) -> list[CasePerson]:
    rows = await session.scalars(select(CasePerson).where(CasePerson.case_id == case_id).order_by(CasePerson.position))
    return list(rows.all())


async def cases_reported_by(session: AsyncSession, person_id: int, limit: int = 10) -> list[Case]:
    rows = await session.scalars(
        select(Case).where(Case.reporter_id == person_id).order_by(Case.created_at.desc()).limit(limit)
    )
    return list(rows.all())


async def case_by_ref(session: AsyncSession, commune_id: str | None, ref: str) -> Case | None:
    return await session.scalar(select(Case).where(Case.commune_id == commune_id, Case.ref == ref.strip().upper()))


def audit(session: AsyncSession, *, actor_id: int | None, channel: str, action: str, now: datetime,
          case_id: int | None = None, detail: str = "") -> None:
    session.add(AuditEntry(at=now, actor_id=actor_id, channel=channel, action=action, case_id=case_id,
                           detail=detail[:200]))


@dataclass(frozen=True)
class CaseView:
    """What one reader may see of a case."""

    case: Case
    codes: dict[str, list[str]]
    people: list[CasePerson]
    texts: list[tuple[str, str]]  # (kind, clear text); empty unless the reader may see free text
    full: bool


def access(reader: Profile, case: Case) -> str | None:
    """'full', 'coded', 'status' or None: the one place that decides who reads what of a case.

    | reader                      | consent agreed | not agreed / not asked |
    |-----------------------------|----------------|------------------------|
    | office of the commune       | full           | full                   |
    | police, case routed to them | full           | full                   |
    | police, case not routed     | —              | —                      |
    | leader of the commune       | full           | coded                  |
    | the reporter                | status         | status                 |
    | admin, province, others     | —              | —                      |
    """
    if reader.commune_id != case.commune_id:
        return None
    if "office" in reader.roles:
        return "full"
    if "police" in reader.roles and case.police_routed:
        return "full"
    if "leader" in reader.roles:
        return "full" if case.consent == "agreed" else "coded"
    if reader.id == case.reporter_id:
        return "status"
    return None


async def read_case(session: AsyncSession, keyring: Keyring, case: Case, reader: Profile, *,
                    channel: str, now: datetime) -> CaseView | None:
    """The only way case details are read for a person: checks the role and writes the audit log."""
    level = access(reader, case)
    if level in (None, "status"):
        audit(session, actor_id=reader.id, channel=channel, action="read_refused", case_id=case.id, now=now)
        return None
    texts: list[tuple[str, str]] = []
    if level == "full":
        rows = await session.scalars(select(CaseText).where(CaseText.case_id == case.id).order_by(CaseText.id))
        texts = [(row.kind, keyring.decrypt_text(row.ciphertext)) for row in rows]
    audit(session, actor_id=reader.id, channel=channel, action=f"read_{level}", case_id=case.id, now=now)
    return CaseView(case, await codes_of(session, case.id), await people_of(session, case.id), texts, level == "full")
