"""The tables, in one module. Every village and report belongs to a commune."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")

        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Commune(Base):
    __tablename__ = "communes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Village(Base):
    __tablename__ = "villages"
    commune_id: Mapped[str] = mapped_column(ForeignKey("communes.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_id: Mapped[str | None] = mapped_column(ForeignKey("communes.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    # The number to call back, E.164, encrypted like case text (storage/people.py phone_of, set_phone).
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_asked: Mapped[bool] = mapped_column(Boolean, default=False)
    org: Mapped[str | None] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8), default="vi")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PersonRole(Base):
    __tablename__ = "person_roles"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class PersonVillage(Base):
    __tablename__ = "person_villages"
    __table_args__ = (
        ForeignKeyConstraint(["commune_id", "village_id"], ["villages.commune_id", "villages.id"]),
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    commune_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    village_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Identity(Base):
    """One account of a person on one channel, as seen by one bot account."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "account", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The person made it unreachable (unfollowed the Zalo official account): pushes go to their other
    # channels until they come back (follow again, or write).
    unreachable_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Invite(Base):
    __tablename__ = "invites"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    commune_id: Mapped[str | None] = mapped_column(ForeignKey("communes.id"))
    roles: Mapped[list] = mapped_column(JSON)
    villages: Mapped[list] = mapped_column(JSON)
    org: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class FailedCode(Base):
    """Wrong invite codes per chat, to refuse guessing (5 an hour)."""

    __tablename__ = "failed_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_key: Mapped[str] = mapped_column(String(160), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChatState(Base):
    """What a not-yet-enrolled chat is doing (waiting for a code) and its language."""

    __tablename__ = "chat_states"
    chat_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    awaiting: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChatList(Base):
    """The numbered list a chat was last shown as a reply, and what each number means."""

    __tablename__ = "chat_lists"
    chat_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[list] = mapped_column(JSON)  # [[choice data, label], ...] in the order shown
    shown_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Draft(Base):
    """An unfinished form, written at every step. Sensitive forms keep their answers encrypted."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    __table_args__ = (UniqueConstraint("person_id", "slot"),)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # "active": the form being answered; "paused": one set aside by a case request, offered after it.
    slot: Mapped[str] = mapped_column(String(8), default="active", server_default="active")
    form: Mapped[str] = mapped_column(String(32))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Counter(Base):
    """Per-commune, per-year sequence numbers for references (BC-2026-0001)."""

    __tablename__ = "counters"
    commune_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Report(Base):
    """An outreach session. A correction adds a new row; the old one is kept, superseded."""

    __tablename__ = "reports"
    __table_args__ = (
        ForeignKeyConstraint(["commune_id", "village_id"], ["villages.commune_id", "villages.id"]),
        Index("ix_reports_commune_held", "commune_id", "held_on"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), index=True)
    commune_id: Mapped[str] = mapped_column(ForeignKey("communes.id"))
    village_id: Mapped[str | None] = mapped_column(String(64))  # None: the whole commune
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    org: Mapped[str | None] = mapped_column(String(32))
    held_on: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(32))
    format_other: Mapped[str | None] = mapped_column(Text)
    attendees_total: Mapped[int] = mapped_column(Integer)
    attendees_male: Mapped[int | None] = mapped_column(Integer)
    attendees_female: Mapped[int | None] = mapped_column(Integer)
    campaign: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    leaflets: Mapped[int | None] = mapped_column(Integer)
    banners: Mapped[int | None] = mapped_column(Integer)
    loudspeaker_minutes: Mapped[int | None] = mapped_column(Integer)
    youth: Mapped[int | None] = mapped_column(Integer)
    ethnic_minority: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    topic_other: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReportTopic(Base):
    __tablename__ = "report_topics"
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)


class Photo(Base):
    """Photos live in the database, downscaled and without EXIF, so backups carry them."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    mime: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InboxEvent(Base):
    """Every update, written before the platform is told it arrived. Payload is encrypted."""

    __tablename__ = "inbox"
    # (conv_key, received_at): the flood count reads the last minute of a chat, not its whole history.
    __table_args__ = (UniqueConstraint("channel", "account", "dedup_key"),
                      Index("ix_inbox_conv_received", "conv_key", "received_at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(128))
    conv_key: Mapped[str] = mapped_column(String(160))
    # What orders the event: "person:<id>" once the sender is known, so one person's events on
    # several channels are handled one at a time; the chat's conv_key before that.
    order_key: Mapped[str | None] = mapped_column(String(160), index=True)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))


class OutboxMessage(Base):
    """Everything the bot sends. Payload is encrypted; delivered ids are kept for edits."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "failed_at", "due_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="reply")
    tag: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the claim's lease ends
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the replica holding it (bot/outbox.py)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    platform_ids: Mapped[list | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(String(300))
    # Not stored: the payload as it was before encryption, kept by the process that queued the row
    # for its own outbox (storage/outbox.py stored_of), which then need not decrypt it again.
    plain = None


Index("ix_outbox_chat_tag", OutboxMessage.channel, OutboxMessage.chat_id, OutboxMessage.tag)


class Case(Base):
    """A suspected case. Coded answers are columns and child rows, so they can be counted in SQL;
    anything free-text lives encrypted in case_texts."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("commune_id", "ref"),
        Index("ix_cases_commune_created", "commune_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32))
    commune_id: Mapped[str] = mapped_column(ForeignKey("communes.id"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(24), default="new")
    details_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    details_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    police_routed: Mapped[bool] = mapped_column(Boolean, default=False)
    village_id: Mapped[str | None] = mapped_column(String(64))
    occurred_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(24))
    kind: Mapped[str | None] = mapped_column(String(24))
    people_count: Mapped[int | None] = mapped_column(Integer)
    perpetrator_sex: Mapped[str | None] = mapped_column(String(8))
    perpetrator_age: Mapped[str | None] = mapped_column(String(8))
    relationship: Mapped[str | None] = mapped_column(String(24))
    repeat: Mapped[str | None] = mapped_column(String(8))
    fined_before: Mapped[str | None] = mapped_column(String(8))
    perpetrator_counselled: Mapped[str | None] = mapped_column(String(8))
    consent: Mapped[str | None] = mapped_column(String(12))
    # Trafficking: does the victim (or person being identified as one) need support? (NQ 28 indicator 3)
    needs_support: Mapped[str | None] = mapped_column(String(8))
    # "cùng hộ với HS-…": the case of the same household this one was linked to in /capnhat.
    household_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # Safety: who took the case, the escalation of an unacknowledged alert, retention.
    ack_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    ack_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    reach_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawal_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    text_purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CaseStatusChange(Base):
    """When a case entered a status (issue 12): the figures count cases received, confirmed,
    found not to be of their kind, still verifying and handled in a period from these rows."""

    __tablename__ = "case_status_history"
    __table_args__ = (Index("ix_case_status_history_case_at", "case_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False)  # reconstructed by migration 0009


class CaseCode(Base):
    """A several-choice answer of a case: forms of violence, measures, support, who was told."""

    __tablename__ = "case_codes"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(24), primary_key=True)


class CasePerson(Base):
    """One person subjected to violence in a case: one row each, so they can be counted."""

    __tablename__ = "case_people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(8))
    age_group: Mapped[str | None] = mapped_column(String(8))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    pregnant_or_nursing: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseText(Base):
    """Free text of a case (description, 'Khác' answers, follow-ups, notes), only ever encrypted."""

    __tablename__ = "case_texts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class Alert(Base):
    """One alert about a case to one person, and who acknowledged it (filled by the safety work)."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # urgent | details
    recipient_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """Who read or changed what, when, through which channel. Written, never edited."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    detail: Mapped[str] = mapped_column(String(200), default="")


class ChannelStatus(Base):
    """Whether a messaging channel is connected, since when, and when this was last confirmed
    (seen_at: a running bot refreshes it every minute, so a stale one means nobody is watching)."""

    __tablename__ = "channel_status"
    channel: Mapped[str] = mapped_column(String(100), primary_key=True)  # "telegram", "zalo_bot:<account>"
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    detail: Mapped[str] = mapped_column(String(200), default="")


class AdminNotice(Base):
    """A problem the admins are told about once when it appears and once when it is resolved,
    keyed by problem ("outbox_stuck", "channel_down:telegram", "digest_failed:xuanduong", ...)."""

    __tablename__ = "admin_notices"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    commune_id: Mapped[str | None] = mapped_column(String(64))  # None: the whole deployment
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # for the message; never secrets or case data
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# ---- the weekly digest, reminders and shared files (issue 5) -------------------------------------


class DigestRun(Base):
    """A weekly digest claimed for a commune: the unique key makes two processes send it once."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("commune_id", "week"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_id: Mapped[str] = mapped_column(ForeignKey("communes.id"))
    week: Mapped[str] = mapped_column(String(8))  # ISO week, "2026-W48"
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    missed: Mapped[list] = mapped_column(JSON, default=list)  # weeks not sent during downtime
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # While its recipients are being queued, batch by batch in person order: the last person queued
    # (0: none yet). None once every recipient is queued (and for runs of earlier releases).
    queued_through: Mapped[int | None] = mapped_column(Integer)


class DigestPart(Base):
    """One message of a digest as one kind of reader gets it (language, inside the commune or not,
    channel), encrypted once while the run's recipients are queued: each batch copies these rows
    into the outbox with one statement. Deleted when the last batch is queued."""

    __tablename__ = "digest_parts"
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"), primary_key=True)
    shape: Mapped[str] = mapped_column(String(64), primary_key=True)  # "vi|inside|telegram"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class ExportRequest(Base):
    """/xuat, asked for and built apart: the step stores it, the exports job builds the files outside
    any transaction and queues them to the chat it came from (handlers/office/exports.py)."""

    __tablename__ = "export_requests"
    __table_args__ = (Index("ix_export_requests_pending", "done_at", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    event: Mapped[bytes] = mapped_column(LargeBinary)  # the /xuat event, encrypted, as the inbox keeps it
    period: Mapped[dict] = mapped_column(JSON)  # start, end, kind, ytd_start (ISO dates)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(String(300))


class DigestSubscription(Base):
    """/bantin: a person's choice to receive (or, for the office and leaders, not) the digest."""

    __tablename__ = "digest_subscriptions"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CommuneSetting(Base):
    """Per-commune switches the office controls from the chat (/nhacnho)."""

    __tablename__ = "commune_settings"
    commune_id: Mapped[str] = mapped_column(ForeignKey("communes.id"), primary_key=True)
    reminders_on: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReminderSent(Base):
    """One nudge per reporter per ISO week, never two."""

    __tablename__ = "reminders_sent"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxBlob(Base):
    """A file or picture that queued messages carry, stored once however many rows name it (a
    digest's workbook and chart for 3,000 recipients). Encrypted; its key is random."""

    __tablename__ = "outbox_blobs"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SharedFile(Base):
    """An export or digest file behind a signed, expiring link. The content is encrypted."""

    __tablename__ = "shared_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_id: Mapped[str | None] = mapped_column(ForeignKey("communes.id"))
    name: Mapped[str] = mapped_column(String(120))
    mime: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ZaloOAToken(Base):
    """A Zalo official account's OAuth pair, encrypted. Once stored it wins over the environment;
    the refresh token is single-use, so a new pair replaces the old one in one transaction."""

    __tablename__ = "zalo_oa_tokens"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)  # the OA's app id
    access_token: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: unknown (seeded)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    refreshes: Mapped[int] = mapped_column(Integer, default=0)
    seed_digest: Mapped[str | None] = mapped_column(String(64))  # which environment pair it came from


class HeldMessage(Base):
    """A message a channel could not send yet (a Zalo OA's 7-day window had closed), encrypted;
    queued again when the person writes on that channel."""

    __tablename__ = "held_messages"
    __table_args__ = (Index("ix_held_messages_chat", "channel", "account", "chat_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LinkCode(Base):
    """A one-time code that attaches another messenger account to an enrolled person (/lienket)."""

    __tablename__ = "link_codes"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
