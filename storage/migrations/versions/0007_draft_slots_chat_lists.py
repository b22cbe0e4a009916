"""a paused draft beside the active one; the numbered list each chat was last shown

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A case request pauses an open outreach draft instead of asking the reporter to discard it:
    # a person holds at most one active and one paused draft.
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slot", sa.String(length=8), nullable=False, server_default="active"))
        batch_op.drop_constraint("uq_drafts_person_id", type_="unique")
        batch_op.create_unique_constraint("uq_drafts_person_id", ["person_id", "slot"])
    # What the numbers of the last list shown in a chat mean, so "2" typed on a channel without
    # buttons resolves against it (forms keep their own mechanism).
    op.create_table(
        "chat_lists",
        sa.Column("chat_key", sa.String(length=160), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_key", name=op.f("pk_chat_lists")),
    )


def downgrade() -> None:
    op.drop_table("chat_lists")
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_drafts_person_id", type_="unique")
        batch_op.drop_column("slot")
        batch_op.create_unique_constraint("uq_drafts_person_id", ["person_id"])
