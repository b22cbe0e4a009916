"""People, their roles, villages and channel identities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import Keyring
from storage.models import Commune, HeldMessage, Identity, Person, PersonRole, PersonVillage, Village

OA_CHANNEL = "zalo_oa"
OA_WINDOW = timedelta(days=7)  # Zalo's consultation window, from the person's last message; -230 wins over it

ROLES = ("reporter", "office", "police", "leader", "admin", "province")
ORGS = (
    "village_head",
    "womens_union",
    "youth_union",
    "fatherland_front",
    "farmers_union",
    "veterans",
    "school",
    "health_station",
)


@dataclass(frozen=True)
class Profile:
    """A person as handlers need them: loaded eagerly, no lazy loads under asyncio."""

    id: int
    name: str
    commune_id: str | None
    roles: frozenset[str]
    villages: tuple[str, ...]  # village ids in the person's commune
    has_phone: bool  # the number itself stays encrypted until an alert needs it: phone_of()
    org: str | None
    lang: str
    active: bool

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


async def sync_communes(session: AsyncSession, communes) -> None:
    """Make the communes and villages tables match config.toml (renames included)."""
    existing = {c.id: c for c in (await session.scalars(select(Commune))).all()}
    for c in communes:
        row = existing.get(c.id)
        if row is None:
            session.add(Commune(id=c.id, name=c.name))
        else:
            row.name = c.name
        rows = {
            v.id: v for v in (await session.scalars(select(Village).where(Village.commune_id == c.id))).all()
        }
        for v in c.villages:
            if v.id in rows:
                rows[v.id].name = v.name
                rows[v.id].active = True
            else:
                session.add(Village(commune_id=c.id, id=v.id, name=v.name, active=True))
        for vid, row in rows.items():
            if vid not in {v.id for v in c.villages}:
                row.active = False
    await session.flush()


async def load_profile(session: AsyncSession, person_id: int) -> Profile | None:
    person = await session.get(Person, person_id)
    if person is None:
        return None
    roles = (await session.scalars(select(PersonRole.role).where(PersonRole.person_id == person_id))).all()
    villages = (
        await session.scalars(
            select(PersonVillage.village_id)
            .where(PersonVillage.person_id == person_id)
            .order_by(PersonVillage.village_id)
        )
    ).all()
    return Profile(
        id=person.id,
        name=person.name,
        commune_id=person.commune_id,
        roles=frozenset(roles),
        villages=tuple(villages),
        has_phone=person.phone_enc is not None,
        org=person.org,
        lang=person.lang,
        active=person.active,
    )


def phone_of(keyring: Keyring, person: Person | None) -> str | None:
    """The person's phone number in clear (E.164), for an alert; None if they gave none."""
    if person is None or person.phone_enc is None:
        return None
    return keyring.decrypt_text(person.phone_enc)


def set_phone(keyring: Keyring, person: Person, phone: str) -> bool:
    """Store the number encrypted; False if it is the one already stored."""
    if phone_of(keyring, person) == phone:
        return False
    person.phone_enc = keyring.encrypt_text(phone)
    return True


async def find_identity(session: AsyncSession, channel: str, account: str, external_id: str) -> Identity | None:
    return await session.scalar(
        select(Identity).where(
            Identity.channel == channel, Identity.account == account, Identity.external_id == external_id
        )
    )


async def create_person(
    session: AsyncSession,
    *,
    now: datetime,
    name: str,
    commune_id: str | None,
    roles: list[str],
    villages: list[str],
    org: str | None,
    lang: str = "vi",
) -> Person:
    person = Person(name=name, commune_id=commune_id, org=org, lang=lang, created_at=now, active=True)
    session.add(person)
    await session.flush()
    for role in sorted(set(roles)):
        session.add(PersonRole(person_id=person.id, role=role))
    for vid in sorted(set(villages)):
        session.add(PersonVillage(person_id=person.id, commune_id=commune_id, village_id=vid))
    await session.flush()
    return person


async def attach_identity(
    session: AsyncSession, person_id: int, *, channel: str, account: str, external_id: str,
    chat_id: str, display_name: str, now: datetime,
) -> Identity:
    await session.execute(
        delete(Identity).where(
            Identity.channel == channel, Identity.account == account, Identity.external_id == external_id
        )
    )
    identity = Identity(
        person_id=person_id, channel=channel, account=account, external_id=external_id,
        chat_id=chat_id, display_name=display_name, created_at=now, last_seen_at=now,
    )
    session.add(identity)
    await session.flush()
    return identity


async def identities_of(session: AsyncSession, person_id: int) -> list[Identity]:
    rows = await session.scalars(
        select(Identity).where(Identity.person_id == person_id).order_by(Identity.last_seen_at.desc())
    )
    return list(rows.all())


async def people_with_role(session: AsyncSession, commune_id: str, role: str) -> list[int]:
    rows = await session.scalars(
        select(Person.id)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.commune_id == commune_id, PersonRole.role == role, Person.active.is_(True))
    )
    return list(rows.all())


async def delivery_order(session: AsyncSession, person_id: int) -> list[Identity]:
    """The person's reachable identities, the preferred channel (the one they last wrote from) first.
    One they made unreachable (unfollowed the official account) is left out."""
    person = await session.get(Person, person_id)
    identities = (
        await session.scalars(
            select(Identity).where(Identity.person_id == person_id, Identity.unreachable_at.is_(None))
            .order_by(Identity.last_seen_at.desc(), Identity.id)
        )
    ).all()
    preferred = person.preferred_channel if person else None
    return sorted(identities, key=lambda i: i.channel != preferred)  # stable: most recently seen next


async def delivery_orders(session: AsyncSession, person_ids) -> dict[int, list[Identity]]:
    """delivery_order for many people in two statements (a digest's recipients, a job's pushes)."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    preferred: dict[int, str | None] = {}
    identities: list[Identity] = []
    for n in range(0, len(ids), 2000):  # well under the drivers' limits on bound parameters
        part = ids[n:n + 2000]
        preferred.update((await session.execute(
            select(Person.id, Person.preferred_channel).where(Person.id.in_(part)))).all())
        identities += (await session.scalars(
            select(Identity).where(Identity.person_id.in_(part), Identity.unreachable_at.is_(None))
            .order_by(Identity.person_id, Identity.last_seen_at.desc(), Identity.id)
        )).all()
    orders: dict[int, list[Identity]] = {pid: [] for pid in ids}
    for identity in identities:
        orders[identity.person_id].append(identity)
    return {pid: sorted(found, key=lambda i, p=preferred.get(pid): i.channel != p) for pid, found in orders.items()}


async def mark_reachable(session: AsyncSession, channel: str, account: str, external_id: str, *,
                         reachable: bool, now: datetime) -> Identity | None:
    """An unfollow makes the identity unreachable; a follow (or a message) makes it reachable again."""
    identity = await find_identity(session, channel, account, external_id)
    if identity is not None:
        identity.unreachable_at = None if reachable else (identity.unreachable_at or now)
    return identity


async def users_per_account(session: AsyncSession, channel: str) -> dict[str, int]:
    """How many people each bot account of a channel serves (a plan may limit them)."""
    rows = await session.execute(
        select(Identity.account, func.count(distinct(Identity.external_id)))
        .where(Identity.channel == channel).group_by(Identity.account))
    return {account: int(n) for account, n in rows}


async def held_for(session: AsyncSession, channel: str, account: str, chat_id: str) -> bool:
    """Whether a message waits for this chat to open again (Zalo OA: a closed window)."""
    return bool(await session.scalar(
        select(HeldMessage.id).where(HeldMessage.channel == channel, HeldMessage.account == account,
                                     HeldMessage.chat_id == chat_id, HeldMessage.released_at.is_(None)).limit(1)
    ))


async def held_chats(session: AsyncSession, identities) -> set[tuple[str, str, str]]:
    """Of these identities' chats, those a message waits for (held_for for many, one statement per
    500 accounts' chats)."""
    chats = sorted({(i.channel, i.account, i.chat_id) for i in identities})
    held: set[tuple[str, str, str]] = set()
    for n in range(0, len(chats), 500):
        part = chats[n:n + 500]
        held.update(tuple(row) for row in (await session.execute(
            select(HeldMessage.channel, HeldMessage.account, HeldMessage.chat_id).distinct()
            .where(HeldMessage.released_at.is_(None), HeldMessage.chat_id.in_({c[2] for c in part}))
        )).all())
    return held & set(chats)  # the statement matched on chat ids alone


def oa_window_expired(identity: Identity, now: datetime) -> bool:
    """The person last wrote more than 7 days ago: the official account may not write to them."""
    return identity.last_seen_at is not None and now - identity.last_seen_at > OA_WINDOW


async def oa_window_closed(session: AsyncSession, identity: Identity, now: datetime, *,
                           held: set[tuple[str, str, str]] | None = None) -> bool:
    """An official-account identity whose window is known closed: the person last wrote more than
    7 days ago, or something is held for them (Zalo answered -230). `held`: the held chats read
    beforehand for many (held_chats), so nothing more is read."""
    if identity.channel != OA_CHANNEL:
        return False
    if oa_window_expired(identity, now):
        return True
    chat = (identity.channel, identity.account, identity.chat_id)
    if held is not None:
        return chat in held
    return await held_for(session, *chat)


def template_address(phone: str | None, oa_user_id: str | None, *, by_user_id: bool) -> str | None:
    """Where a template message goes: "84…" for a Vietnamese phone number (Zalo's form, no "+"),
    else "uid:<Zalo user id>" where templates by user id are allowed; None when neither."""
    if phone and phone.startswith("+84") and phone[1:].isdigit() and len(phone) in (12, 13):
        return phone[1:]
    if by_user_id and oa_user_id:
        return "uid:" + oa_user_id
    return None
