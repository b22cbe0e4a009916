"""What one step needs, read in one statement: the event's state, the person (identity, roles,
villages), their drafts, the chat's state and numbered list, and the flood count.

The rows land in the session as usual (its identity map), and what was found absent is noted in
`session.info`, so the handlers' own reads (storage/drafts.py load_draft, `known`, the flood guard)
are answered without asking the database again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, event, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from core.events import Incoming
from storage.models import (
    ChatList,
    ChatState,
    Draft,
    Identity,
    InboxEvent,
    Person,
    PersonRole,
    PersonVillage,
    UtcDateTime,
)
from storage.people import Profile

ABSENT = "step_absent"  # {(model, primary key)} read as missing in this step
DRAFTS = "step_drafts"  # (person_id, {slot: Draft | None})
FLOOD = "step_flood"  # (conv_key, since, count)
HELD = "step_rows"  # the rows read, held for the step


@dataclass
class StepRead:
    processed: bool  # the event was handled already (a duplicate hand-off, another replica)
    earlier: bool  # an older event of the same chat or person still waits: it goes first
    identity: Identity | None
    person: Person | None
    profile: Profile | None


def _build():
    """The statement, built once: its values are bound parameters (building it is most of its cost)."""
    other = aliased(InboxEvent)
    active, paused = aliased(Draft), aliased(Draft)
    inbox_id, conv_key, since = bindparam("inbox_id"), bindparam("conv_key"), bindparam("since", type_=UtcDateTime)
    one = select(literal(1).label("one")).subquery()
    this = select(InboxEvent.processed_at.is_not(None)).where(InboxEvent.id == inbox_id).scalar_subquery()
    this_order = select(InboxEvent.order_key).where(InboxEvent.id == inbox_id).scalar_subquery()
    earlier = exists().where(
        other.processed_at.is_(None), other.id < inbox_id,
        (other.conv_key == conv_key) | (other.order_key == this_order),
    )
    flood = (
        select(func.count()).select_from(other)
        .where(other.conv_key == conv_key, other.received_at > since, other.id <= inbox_id)
        .scalar_subquery()
    )
    roles = select(func.aggregate_strings(PersonRole.role, ",")).where(
        PersonRole.person_id == Identity.person_id).scalar_subquery()
    villages = select(func.aggregate_strings(PersonVillage.village_id, ",")).where(
        PersonVillage.person_id == Identity.person_id).scalar_subquery()
    return (
        select(this.label("processed"), earlier.label("earlier"), flood.label("flood"), roles.label("roles"),
               villages.label("villages"), Identity, Person, active, paused, ChatList, ChatState)
        .select_from(one)
        .outerjoin(Identity, and_(Identity.channel == bindparam("channel"), Identity.account == bindparam("account"),
                                  Identity.external_id == bindparam("user_id")))
        .outerjoin(Person, Person.id == Identity.person_id)
        .outerjoin(active, and_(active.person_id == Identity.person_id, active.slot == "active"))
        .outerjoin(paused, and_(paused.person_id == Identity.person_id, paused.slot == "paused"))
        .outerjoin(ChatList, ChatList.chat_key == conv_key)
        .outerjoin(ChatState, ChatState.chat_key == conv_key)
    )


# populate_existing: a second read in the same step (an older event went first) must see what
# another replica committed since the first, not the rows the session already holds.
_STATEMENT = _build().execution_options(populate_existing=True)


async def read_step(session, inbox_id: int, event: Incoming, *, since: datetime) -> StepRead:
    """`since`: where the flood guard's minute starts (handlers/safety.py flooding)."""
    row = (await session.execute(_STATEMENT, {
        "inbox_id": inbox_id, "conv_key": event.conv_key, "since": since, "channel": event.channel,
        "account": event.account, "user_id": event.user_id,
    })).one()
    (processed, earlier, flood, roles, villages, identity, person, active, paused, chat_list, chat_state) = row
    # The identity map holds rows weakly: kept here, they stay in it for the whole step.
    session.info[HELD] = [r for r in (identity, person, active, paused, chat_list, chat_state) if r is not None]
    absent = session.info.setdefault(ABSENT, set())
    if chat_list is None:
        absent.add((ChatList, event.conv_key))
    if chat_state is None:
        absent.add((ChatState, event.conv_key))
    session.info[FLOOD] = (event.conv_key, since, int(flood or 0))
    profile = None
    if person is not None:
        session.info[DRAFTS] = (person.id, {"active": active, "paused": paused})
        profile = Profile(
            id=person.id, name=person.name, commune_id=person.commune_id,
            roles=frozenset(filter(None, (roles or "").split(","))),
            villages=tuple(sorted(filter(None, (villages or "").split(",")))),
            has_phone=person.phone_enc is not None, org=person.org, lang=person.lang, active=person.active,
        )
    return StepRead(processed=bool(processed), earlier=bool(earlier), identity=identity, person=person,
                    profile=profile)


async def known(session, model, key):
    """session.get, except for a row this step's read found missing (and nothing added since)."""
    if (model, key) in session.info.get(ABSENT, ()):
        return None
    return await session.get(model, key)


def forget_drafts(session) -> None:
    """Drafts were created or deleted: the step's read of them no longer holds."""
    session.info.pop(DRAFTS, None)


def cached_draft(session, person_id: int, slot: str) -> tuple[bool, Draft | None]:
    cached = session.info.get(DRAFTS)
    if cached is None or cached[0] != person_id or slot not in cached[1]:
        return False, None
    return True, cached[1][slot]


def known_drafts(session, person_id: int) -> dict[str, Draft | None] | None:
    """Both slots as the step read them ({slot: draft or None}); None when it did not."""
    cached = session.info.get(DRAFTS)
    return dict(cached[1]) if cached is not None and cached[0] == person_id else None


def drafts_deleted(session, person_id: int, slots) -> None:
    """The drafts in `slots` were deleted: the step's read knows those slots are empty now."""
    cached = session.info.get(DRAFTS)
    if cached is not None and cached[0] == person_id:
        cached[1].update(dict.fromkeys(slots))


def cached_flood(session, conv_key: str, since: datetime) -> int | None:
    cached = session.info.get(FLOOD)
    return cached[2] if cached is not None and cached[0] == conv_key and cached[1] == since else None


def end_step(session) -> None:
    for key in (ABSENT, DRAFTS, FLOOD, HELD):
        session.info.pop(key, None)


@event.listens_for(Session, "transient_to_pending")
def _added(session, instance) -> None:
    """A row added in this step is no longer absent."""
    absent = session.info.get(ABSENT)
    if absent and isinstance(instance, (ChatList, ChatState)):
        absent.discard((type(instance), instance.chat_key))
