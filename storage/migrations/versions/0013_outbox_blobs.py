"""files and pictures of queued messages stored once, not in every row that carries them

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_blobs",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_outbox_blobs")),
    )
    op.create_index(op.f("ix_outbox_blobs_created_at"), "outbox_blobs", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_blobs_created_at"), table_name="outbox_blobs")
    op.drop_table("outbox_blobs")
